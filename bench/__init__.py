"""shopbot benchmarks: `make bench` (= `python -m bench`) runs them and writes bench/REPORT.md."""
