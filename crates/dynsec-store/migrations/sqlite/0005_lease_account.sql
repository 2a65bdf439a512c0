-- The AWS account an issued credential lives in, so revocation can tell "the
-- user is gone" from "this connection now reaches another account".
ALTER TABLE leases ADD COLUMN account_id TEXT;
