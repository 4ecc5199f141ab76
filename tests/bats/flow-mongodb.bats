#!/usr/bin/env bats
# The order flow on mongodb: ecom-bench in one process, the stage
# processes, run-flow.sh, kill -9 and restart, repeats and mismatches.
# The cases are shared with the other store's file (flow_cases.bash).

load helpers
load flow_cases

setup() {
	require_stack mongodb
}

teardown() {
	stop_all_bg
}

@test "mongodb: ecom-bench stores exactly N documents per collection, all fulfilled" {
	case_bench_stores_exactly_n
}

@test "mongodb: ecom-bench with a window of 8 stores exactly N and reports its ceiling" {
	case_bench_window_stores_exactly_n
}

@test "mongodb: ecom-bench reports the floor measured in the same run and the ratio to it" {
	case_bench_reports_floor_and_ratio
}

@test "mongodb: separate stage processes take N orders through, audit clean" {
	case_stage_processes_take_n_orders
}

@test "mongodb: a stage killed with SIGKILL mid-run and restarted loses and duplicates nothing" {
	case_stage_killed_and_restarted
}

@test "mongodb: ecom-reconcile killed with SIGKILL and restarted creates no extra order" {
	case_reconcile_killed_and_restarted
}

@test "mongodb: a repeated orderfulfilled event starts no extra order" {
	case_repeated_fulfilment_starts_nothing
}

@test "mongodb: a count mismatch stops reconcile with both counts and exit 1" {
	case_count_mismatch_stops_reconcile
}

@test "mongodb: run-flow.sh drives N orders through separate processes and stops them all" {
	case_run_flow_script
}
