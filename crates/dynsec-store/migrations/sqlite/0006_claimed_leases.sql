-- Leases a gateway instance is working on (intents and revocations in
-- progress), for finding those of dead instances.
CREATE INDEX leases_claimed ON leases(owner) WHERE state IN ('pending', 'revoking');
