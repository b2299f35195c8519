// CCCIDeploy: filled in by the driver, store and run issues.
