"""Verify the providers against the consumers' pacts from a Pact Broker, cell by cell."""
