"""What runs on the TAPPaaS CI/CD machine and reaches the VM over SSH.

generate, deploy (and --create), key, upgrade, the service-key hand-over (`service-key`,
`tappaas-service`) and the site's own files under `site/`.
"""
