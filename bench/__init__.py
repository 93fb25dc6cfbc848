"""Benchmarks and the load-test driver: they measure the library and the server from outside, and ship with neither."""
