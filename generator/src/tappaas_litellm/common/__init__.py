"""The plumbing every side shares: processes, shell quoting, SSH targets, errors, HTTP."""
