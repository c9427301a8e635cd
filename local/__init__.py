"""The local cloud: the Pulumi program deployed onto this machine (moto + worker processes)."""
