/* Exit statuses shared by every ecom command (see EXIT STATUS in each page). */
#ifndef ECOM_EXIT_H
#define ECOM_EXIT_H

enum ecom_exit_status {
	ECOM_EXIT_OK = 0,      /* success */
	ECOM_EXIT_FAILURE = 1, /* runtime failure: broker, store, bad data, mismatch */
	ECOM_EXIT_USAGE = 2,   /* bad command line or configuration */
};

#endif
