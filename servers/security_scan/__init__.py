"""The security-scan server: offline scanning with normalised, paged findings."""
