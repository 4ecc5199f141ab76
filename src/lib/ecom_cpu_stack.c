/*
 * Which of the run's servers are the dev stack's (ecom_cpu_services_find):
 * the URIs' hosts and ports against the stack's ports.env, then its pid
 * files, checked as scripts/devstack.sh's pid_is_ours() does: the
 * process is alive and its command line names the stack's directory, so
 * a stale pid file never measures a stranger.  A server elsewhere is
 * the user's, not ours to measure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ecom_alloc.h"
#include "ecom_cpu.h"

#define KAFKA_NODES_MAX 9
#define ENDPOINTS_MAX 16

/* The ports ports.env gives each service; 0: the stack has none. */
typedef struct stack_ports {
	int kafka_count;
	int kafka[KAFKA_NODES_MAX + 1]; /* node i at kafka[i], from 1 */
	int mongo;
	int pg;
} stack_ports;

typedef struct endpoint {
	char host[256];
	int port;
	bool socket; /* a Unix socket: this machine */
} endpoint;

typedef struct endpoints {
	endpoint e[ENDPOINTS_MAX];
	int n;
} endpoints;

/* A note or reason, cut to size: a long state directory shortens it. */
static void ECOM_PRINTF(3, 4)
say(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* 0, or -1 when the file is missing (no stack) or unreadable. */
static int
ports_read(const char *dir, stack_ports *ports)
{
	char path[4200], line[256], key[64];
	int value;
	FILE *f;

	memset(ports, 0, sizeof(*ports));
	ports->kafka_count = 1; /* as devstack.sh: a file without the count */
	say(path, sizeof(path), "%s/ports.env", dir);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		int node;

		/* An empty value: the stack does not run that service. */
		if (sscanf(line, " %63[A-Z_0-9]=%d", key, &value) != 2)
			continue;
		if (strcmp(key, "KAFKA_BROKERS_COUNT") == 0 && value >= 1 && value <= KAFKA_NODES_MAX)
			ports->kafka_count = value;
		else if (strcmp(key, "KAFKA_PORT") == 0)
			ports->kafka[1] = value;
		else if (sscanf(key, "KAFKA_PORT_%d", &node) == 1 && node >= 2 && node <= KAFKA_NODES_MAX)
			ports->kafka[node] = value;
		else if (strcmp(key, "MONGO_PORT") == 0)
			ports->mongo = value;
		else if (strcmp(key, "PG_PORT") == 0)
			ports->pg = value;
	}
	fclose(f);
	return 0;
}

/* "host", "host:port", "[v6]:port", "%2Fpath.sock" into e; -1 if bad. */
static int
endpoint_parse(const char *text, size_t len, int default_port, endpoint *e)
{
	const char *colon = NULL, *host = text;
	size_t hlen = len;
	char *end;

	memset(e, 0, sizeof(*e));
	e->port = default_port;
	if (len > 0 && text[0] == '[') {
		const char *close = memchr(text, ']', len);

		if (close == NULL)
			return -1;
		host = text + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < text + len)
			colon = close[1] == ':' ? close + 1 : NULL;
		if (colon == NULL && close + 1 < text + len)
			return -1;
	} else if ((colon = memchr(text, ':', len)) != NULL) {
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(e->host))
		return -1;
	memcpy(e->host, host, hlen);
	e->socket = e->host[0] == '/' || strncasecmp(e->host, "%2F", 3) == 0;
	if (colon != NULL) {
		long port = strtol(colon + 1, &end, 10);

		if (end != text + len || port <= 0 || port > 65535)
			return -1;
		e->port = (int)port;
	}
	return 0;
}

/* A comma-separated list of endpoints; scheme "x://" and spaces skipped. */
static int
endpoints_split(const char *list, size_t len, int default_port, endpoints *eps)
{
	const char *p = list, *stop = list + len;

	eps->n = 0;
	while (p < stop) {
		const char *comma = memchr(p, ',', (size_t)(stop - p)), *scheme;
		const char *end = comma ? comma : stop;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		scheme = p < end ? strstr(p, "://") : NULL;
		if (scheme != NULL && scheme < end)
			p = scheme + 3;
		if (eps->n == ENDPOINTS_MAX || endpoint_parse(p, (size_t)(end - p), default_port,
		                                              &eps->e[eps->n]) != 0)
			return -1;
		eps->n++;
		p = comma ? comma + 1 : stop;
	}
	return eps->n > 0 ? 0 : -1;
}

/* mongodb://[user@]host[:port][,…][/db][?options] */
static int
mongo_endpoints(const char *uri, endpoints *eps)
{
	const char *start, *end, *at;

	if (strncmp(uri, "mongodb://", 10) != 0)
		return -1;
	start = uri + 10;
	end = start + strcspn(start, "/?");
	for (at = start; at < end; at++)
		if (*at == '@')
			start = at + 1;
	return endpoints_split(start, (size_t)(end - start), 27017, eps);
}

/* The i-th of a comma-separated list (libpq's host, hostaddr, port), or "". */
static void
list_item(const char *list, int i, char *out, size_t size)
{
	const char *p = list ? list : "";
	size_t len;

	for (; i > 0 && p != NULL; i--) {
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	len = p ? strcspn(p, ",") : 0;
	if (len >= size)
		len = size - 1;
	memcpy(out, p ? p : "", len);
	out[len] = '\0';
}

/* An option libpq would take from the environment when the URI has none. */
static const char *
pg_option(const char *given, const char *env)
{
	if (given != NULL && given[0] != '\0')
		return given;
	given = getenv(env);
	return given != NULL && given[0] != '\0' ? given : NULL;
}

/* libpq's own parse: URIs and key=value strings, host lists, hostaddr. */
static int
pg_endpoints(const char *uri, endpoints *eps)
{
	PQconninfoOption *options = PQconninfoParse(uri, NULL), *o;
	const char *host = NULL, *hostaddr = NULL, *port = NULL, *service = NULL, *p;
	int i, n = 1, rc = -1;

	if (options == NULL)
		return -1;
	for (o = options; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "host") == 0)
			host = pg_option(o->val, "PGHOST");
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = pg_option(o->val, "PGHOSTADDR");
		else if (strcmp(o->keyword, "port") == 0)
			port = pg_option(o->val, "PGPORT");
		else if (strcmp(o->keyword, "service") == 0)
			service = pg_option(o->val, "PGSERVICE");
	}
	/* A service file may name any host: not followed. */
	if (service != NULL)
		goto out;
	for (p = hostaddr ? hostaddr : host ? host : ""; *p; p++)
		n += *p == ',';
	if (n > ENDPOINTS_MAX)
		goto out;
	eps->n = n;
	for (i = 0; i < n; i++) {
		endpoint *e = &eps->e[i];
		char text[16];

		list_item(hostaddr, i, e->host, sizeof(e->host));
		if (e->host[0] == '\0')
			list_item(host, i, e->host, sizeof(e->host));
		/* No host: libpq's default socket directory, this machine. */
		e->socket = e->host[0] == '\0' || e->host[0] == '/' || e->host[0] == '@';
		list_item(port, port && strchr(port, ',') ? i : 0, text, sizeof(text));
		e->port = text[0] ? atoi(text) : 5432;
	}
	rc = 0;
out:
	PQconninfoFree(options);
	return rc;
}

static bool
is_loopback(const endpoint *e)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (e->socket || strcasecmp(e->host, "localhost") == 0 ||
	    strcasecmp(e->host, "localhost.") == 0)
		return true;
	if (inet_pton(AF_INET, e->host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, e->host, &v6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&v6) ||
		       (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
	return false;
}

/* The whole of /proc/PID/cmdline, its NULs as spaces; NULL if gone. */
static char *
cmdline_read(pid_t pid)
{
	char path[64], *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = ecom_xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n > 0)
			len += (size_t)n;
	} while (n > 0);
	close(fd);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[len] = '\0';
	return buf;
}

/* The start of pid in clock ticks (field 22 of its stat); 0 if gone. */
static unsigned long long
start_tick(pid_t pid)
{
	char path[64], buf[1024], *paren;
	unsigned long long start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL && (paren = strrchr(buf, ')')) != NULL &&
	    sscanf(paren + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d"
	                      " %*d %*d %*d %*d %llu", &start) != 1)
		start = 0;
	fclose(f);
	return start;
}

/*
 * The server in pidfile (first line), if alive and started with mark on
 * its command line; else -1 and why.
 */
static int
proc_from_pidfile(ecom_cpu_proc *proc, const char *pidfile, const char *mark, char *why,
                  size_t size)
{
	char line[64] = "", *end, *cmd;
	FILE *f = fopen(pidfile, "re");
	long pid;
	bool alive, ours;

	if (f == NULL) {
		say(why, size, "no pid file '%s'", pidfile);
		return -1;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	pid = strtol(line, &end, 10);
	if (line[0] == '\0' || *end != '\0' || pid <= 0 || pid > 0x3fffffff) {
		say(why, size, "pid file '%s' holds no pid ('%.20s')", pidfile, line);
		return -1;
	}
	cmd = cmdline_read((pid_t)pid);
	/* A zombie's command line is empty: not running either. */
	alive = cmd != NULL && cmd[0] != '\0';
	ours = alive && strstr(cmd, mark) != NULL;
	free(cmd);
	if (!ours) {
		say(why, size, "pid %ld of '%s' is not running%s", pid, pidfile,
		         alive ? " (the pid is another program's)" : "");
		return -1;
	}
	proc->pid = (pid_t)pid;
	proc->start_tick = start_tick(proc->pid);
	return 0;
}

/* The pid file, the mark on the command line and the name of node i of n. */
static void
node_paths(enum ecom_cpu_kind kind, const char *dir, int i, int n, char *pidfile, char *mark,
           size_t size, char *name, size_t name_size)
{
	switch (kind) {
	case ECOM_CPU_KAFKA:
		/*
		 * One broker keeps kafka/; broker i of a cluster lives in
		 * kafka/kafka-i, and its dedicated KRaft controller, node 0, in
		 * kafka/controller: Kafka's CPU is theirs together.
		 */
		if (n == 1) {
			say(pidfile, size, "%s/kafka/kafka.pid", dir);
			say(mark, size, "%s/kafka/server.properties", dir);
			snprintf(name, name_size, "kafka");
		} else if (i == 0) {
			say(pidfile, size, "%s/kafka/controller/kafka.pid", dir);
			say(mark, size, "%s/kafka/controller/server.properties", dir);
			snprintf(name, name_size, "controller");
		} else {
			say(pidfile, size, "%s/kafka/kafka-%d/kafka.pid", dir, i);
			say(mark, size, "%s/kafka/kafka-%d/server.properties", dir, i);
			snprintf(name, name_size, "kafka-%c", (char)('0' + i));
		}
		break;
	case ECOM_CPU_MONGODB:
		say(pidfile, size, "%s/mongodb/mongodb.pid", dir);
		say(mark, size, "%s/mongodb/data", dir);
		snprintf(name, name_size, "mongodb");
		break;
	default:
		say(pidfile, size, "%s/postgres/data/postmaster.pid", dir);
		say(mark, size, "%s/postgres/data", dir);
		snprintf(name, name_size, "postgresql");
		break;
	}
}

static bool
stack_has_port(enum ecom_cpu_kind kind, const stack_ports *ports, int port, bool *runs)
{
	int i;

	*runs = true;
	switch (kind) {
	case ECOM_CPU_KAFKA:
		*runs = ports->kafka[1] != 0;
		for (i = 1; i <= ports->kafka_count; i++)
			if (ports->kafka[i] == port)
				return true;
		return false;
	case ECOM_CPU_MONGODB:
		*runs = ports->mongo != 0;
		return ports->mongo == port;
	default:
		*runs = ports->pg != 0;
		return ports->pg == port;
	}
}

/* 0 when every endpoint of uri is the stack's; else -1 and why. */
static int
check_endpoints(enum ecom_cpu_kind kind, const char *uri, const char *dir,
                const stack_ports *ports, char *why, size_t size)
{
	const char *name = ecom_cpu_kind_name(kind);
	endpoints eps;
	bool runs;
	int rc, i;

	if (kind == ECOM_CPU_KAFKA)
		rc = endpoints_split(uri, strlen(uri), 9092, &eps);
	else if (kind == ECOM_CPU_MONGODB)
		rc = mongo_endpoints(uri, &eps);
	else
		rc = pg_endpoints(uri, &eps);
	/* The URI is not quoted: it may hold a password. */
	if (rc != 0) {
		say(why, size, "not measured here: cannot tell which machine the %s URI names", name);
		return -1;
	}
	for (i = 0; i < eps.n; i++) {
		if (!is_loopback(&eps.e[i])) {
			say(why, size, "not measured here: '%s' is another machine", eps.e[i].host);
			return -1;
		}
		if (ports == NULL) {
			say(why, size, "not measured here: no dev stack in '%s'", dir);
			return -1;
		}
		if (!stack_has_port(kind, ports, eps.e[i].port, &runs)) {
			if (!runs)
				say(why, size, "not measured here: the dev stack in '%s' runs no %s", dir, name);
			else
				say(why, size, "not measured here: port %d is not the %s of the dev stack in '%s'",
				         eps.e[i].port, name, dir);
			return -1;
		}
	}
	return 0;
}

static void
find_kind(ecom_cpu_services *s, enum ecom_cpu_kind kind, const char *uri, const char *dir,
          const stack_ports *ports)
{
	char *note = s->note[kind];
	size_t size = sizeof(s->note[kind]);
	int i, first = 1, nodes, found = 0;

	if (uri == NULL || *uri == '\0')
		return;
	if (check_endpoints(kind, uri, dir, ports, note, size) != 0) {
		s->state[kind] = ECOM_CPU_NOT_HERE;
		return;
	}
	nodes = kind == ECOM_CPU_KAFKA ? ports->kafka_count : 1;
	if (nodes > 1)
		first = 0; /* a cluster's controller */
	for (i = first; i <= nodes && s->count < ECOM_CPU_PROCS_MAX; i++) {
		char pidfile[4200], mark[4200], why[512];
		ecom_cpu_proc proc = {.kind = kind};
		size_t used = strlen(note);

		node_paths(kind, dir, i, nodes, pidfile, mark, sizeof(pidfile), proc.name,
		           sizeof(proc.name));
		if (proc_from_pidfile(&proc, pidfile, mark, why, sizeof(why)) == 0) {
			s->procs[s->count++] = proc;
			found++;
		} else if (used + 2 < size) {
			say(note + used, size - used, "%s%s: %s", used ? "; " : "", proc.name, why);
		}
	}
	s->state[kind] = found ? ECOM_CPU_FOUND : ECOM_CPU_NOT_RUNNING;
}

int
ecom_cpu_services_find(ecom_cpu_services *s, const ecom_cpu_where *where, ecom_err *err)
{
	const char *env = getenv("ECOM_DEVSTACK_DIR");
	const char *uris[ECOM_CPU_KINDS] = {where->brokers, where->mongodb_uri, where->postgres_uri};
	char dir[4096];
	size_t len;
	stack_ports ports;
	bool have_ports;
	int kind;

	memset(s, 0, sizeof(*s));
	if (where->devstack_dir != NULL && where->devstack_dir[0] != '\0')
		say(dir, sizeof(dir), "%s", where->devstack_dir);
	else if (env != NULL && env[0] != '\0')
		say(dir, sizeof(dir), "%s", env);
	else
		snprintf(dir, sizeof(dir), "/tmp/ecom-devstack-%lu", (unsigned long)getuid());
	/* As devstack.sh: one trailing slash off, so the marks match. */
	len = strlen(dir);
	if (len > 1 && dir[len - 1] == '/')
		dir[len - 1] = '\0';
	have_ports = ports_read(dir, &ports) == 0;
	if (!have_ports && errno != ENOENT && errno != ENOTDIR)
		return ecom_err_set(err, "cannot read '%s/ports.env': %s", dir, strerror(errno));
	for (kind = 0; kind < ECOM_CPU_KINDS; kind++)
		find_kind(s, (enum ecom_cpu_kind)kind, uris[kind], dir, have_ports ? &ports : NULL);
	return 0;
}

int
ecom_cpu_services_of_run(ecom_cpu_services *s, const ecom_config *cfg, ecom_err *err)
{
	enum ecom_store_kind kind;
	const char *uri;
	ecom_cpu_where where = {.brokers = cfg->brokers};

	if (ecom_config_store(cfg, &kind, &uri, err) < 0)
		return -1;
	if (kind == ECOM_STORE_MONGODB)
		where.mongodb_uri = uri;
	else
		where.postgres_uri = uri;
	return ecom_cpu_services_find(s, &where, err);
}
