"""The fleetsim sync engine: a real integration service that talks to vendors over HTTP only."""
