"""One file per view. Each renders core Snapshots / Traces and never calls torch."""
