"""The service's routes, one module per front: moderation, supervise, the two vendor
proxies, audit, and the system routes (constitutions, health, readiness, metrics)."""
