"""What every CODE server stands on: config, auth, policy, limits, audit, output, transports."""
