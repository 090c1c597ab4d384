/* store/pg/schema.c - the versioned schema (one migration per version, applied
 * in order in one transaction under an advisory lock, so two processes that
 * init or migrate at once do it once), opening and closing the store, the
 * readers, and the meta row (identity, clock high-water mark). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "lic/err.h"
#include "store/pg/internal.h"

/* Version 1: the tables public mode keeps. The row lock a registration takes
 * on its account (pgs_w_account_get: SELECT ... FOR UPDATE) serializes the
 * capacity check across processes; the primary key of registrations is the
 * unique (account, project). */
static const char MIGRATION_1[] =
    "CREATE TABLE licsrv_meta (one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    " schema integer NOT NULL, mode text NOT NULL DEFAULT '', node_kid bytea, node_pub bytea,"
    " project_id bytea, created bigint NOT NULL DEFAULT 0, clock_hwm bigint NOT NULL DEFAULT 0,"
    " cert bytea);"
    "INSERT INTO licsrv_meta (schema) VALUES (1);"
    "CREATE TABLE licsrv_certs (id bytea PRIMARY KEY, env bytea NOT NULL,"
    " imported bigint NOT NULL);"
    "CREATE TABLE licsrv_accounts (id bytea PRIMARY KEY, env bytea NOT NULL,"
    " imported bigint NOT NULL, revoked_at bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE licsrv_registrations (account bytea NOT NULL, project_id bytea NOT NULL,"
    " project text NOT NULL, domain text NOT NULL, created bigint NOT NULL,"
    " last_valid bigint NOT NULL, PRIMARY KEY (account, project_id));"
    "CREATE TABLE licsrv_nodes (owner bytea NOT NULL, node text NOT NULL,"
    " last_seen bigint NOT NULL DEFAULT 0, fail_time bigint NOT NULL DEFAULT 0,"
    " fail_status text NOT NULL DEFAULT '', fail_reason text NOT NULL DEFAULT '',"
    " PRIMARY KEY (owner, node));"
    "CREATE TABLE licsrv_audit (seq bigserial PRIMARY KEY, time bigint NOT NULL,"
    " token text NOT NULL, action text NOT NULL, subject text NOT NULL);"
    "CREATE INDEX licsrv_audit_time ON licsrv_audit (time);"
    "CREATE TABLE licsrv_tokens (hash bytea PRIMARY KEY, name text NOT NULL UNIQUE,"
    " created bigint NOT NULL);";

/* Version 2: every change to what the verify path caches is announced on
 * PGS_NOTIFY_CHANNEL ("a HEX" account, "r HEX" an account's registrations,
 * "c" certificates, "t" tokens), delivered at commit. */
static const char MIGRATION_2[] =
    "CREATE FUNCTION licsrv_notify() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " DECLARE k text; BEGIN"
    "  IF TG_NARGS > 1 THEN"
    "   k := (CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END) ->> TG_ARGV[1];"
    "  END IF;"
    "  PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', TG_ARGV[0] || ' ' || COALESCE(substr(k, 3), ''));"
    "  RETURN NULL; END $f$;"
    "CREATE TRIGGER licsrv_accounts_notify AFTER INSERT OR UPDATE OR DELETE ON licsrv_accounts"
    " FOR EACH ROW EXECUTE FUNCTION licsrv_notify('a', 'id');"
    "CREATE TRIGGER licsrv_registrations_notify AFTER INSERT OR UPDATE OR DELETE"
    " ON licsrv_registrations FOR EACH ROW EXECUTE FUNCTION licsrv_notify('r', 'account');"
    "CREATE TRIGGER licsrv_certs_notify AFTER INSERT OR UPDATE OR DELETE ON licsrv_certs"
    " FOR EACH ROW EXECUTE FUNCTION licsrv_notify('c');"
    "CREATE TRIGGER licsrv_tokens_notify AFTER INSERT OR UPDATE OR DELETE ON licsrv_tokens"
    " FOR EACH ROW EXECUTE FUNCTION licsrv_notify('t');";

/* Version 3: registrations cheap to take.
 * - licsrv_accounts.nregs, the account's registration count, kept by the
 *   registrations' trigger in the writing transaction (under the account's
 *   row lock the capacity check holds anyway), so the check reads one row
 *   instead of counting the account's registrations; set from the table when
 *   an account row is inserted (registrations may outlive their account:
 *   `forget` deletes both, a plain account delete only the account) and
 *   backfilled here.
 * - A registration's notification names the row ("r ACCOUNT PROJECT"), so
 *   another process reloads one row, not the whole account; every
 *   notification ends with the writer's origin (" ORIGIN": the
 *   licsrv.origin setting of the session, 16 hex digits, when set), so a
 *   process skips its own changes (its writer put them in its copy already).
 *   An nregs-only update of an account announces nothing.
 * The payloads of version 2 stay readable (store/pg/notify.c). */
static const char MIGRATION_3[] =
    "ALTER TABLE licsrv_accounts ADD COLUMN nregs bigint NOT NULL DEFAULT 0;"
    "CREATE FUNCTION licsrv_origin() RETURNS text LANGUAGE sql STABLE AS $f$"
    " SELECT CASE WHEN COALESCE(current_setting('licsrv.origin', true), '') = '' THEN ''"
    " ELSE ' ' || current_setting('licsrv.origin', true) END $f$;"
    "CREATE OR REPLACE FUNCTION licsrv_notify() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " DECLARE k text := ''; BEGIN"
    "  IF TG_NARGS > 1 THEN"
    "   k := ' ' || COALESCE(substr((CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD)"
    "    ELSE to_jsonb(NEW) END) ->> TG_ARGV[1], 3), '');"
    "  END IF;"
    "  PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', TG_ARGV[0] || k || licsrv_origin());"
    "  RETURN NULL; END $f$;"
    "CREATE FUNCTION licsrv_reg_change() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN"
    "  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.account <> NEW.account"
    "   OR OLD.project_id <> NEW.project_id)) THEN"
    "   IF TG_OP = 'DELETE' OR OLD.account <> NEW.account THEN"
    "    UPDATE licsrv_accounts SET nregs = nregs - 1 WHERE id = OLD.account;"
    "   END IF;"
    "   PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', 'r ' || encode(OLD.account, 'hex') || ' '"
    "    || encode(OLD.project_id, 'hex') || licsrv_origin());"
    "  END IF;"
    "  IF TG_OP <> 'DELETE' THEN"
    "   IF TG_OP = 'INSERT' OR OLD.account <> NEW.account THEN"
    "    UPDATE licsrv_accounts SET nregs = nregs + 1 WHERE id = NEW.account;"
    "   END IF;"
    "   PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', 'r ' || encode(NEW.account, 'hex') || ' '"
    "    || encode(NEW.project_id, 'hex') || licsrv_origin());"
    "  END IF;"
    "  RETURN NULL; END $f$;"
    "DROP TRIGGER licsrv_registrations_notify ON licsrv_registrations;"
    "CREATE TRIGGER licsrv_registrations_change AFTER INSERT OR UPDATE OR DELETE"
    " ON licsrv_registrations FOR EACH ROW"
    " WHEN (current_setting('licsrv.claim', true) IS DISTINCT FROM 'on')"
    " EXECUTE FUNCTION licsrv_reg_change();"
    "CREATE FUNCTION licsrv_account_nregs() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN NEW.nregs := (SELECT count(*) FROM licsrv_registrations WHERE account = NEW.id);"
    "  RETURN NEW; END $f$;"
    "CREATE TRIGGER licsrv_accounts_nregs BEFORE INSERT ON licsrv_accounts"
    " FOR EACH ROW EXECUTE FUNCTION licsrv_account_nregs();"
    /* a registration's claim in one round trip (store_w_registration_claim):
     * outcome 0 no account, 1 revoked, 2 registered already, 3 full, 4 new.
     * The slot is taken first, as one update under the account's row lock
     * (SPEC 4.5: a second process's claim waits for the lock and then sees
     * this count); the insert's trigger is told (licsrv.claim, for this
     * statement only) that the claim keeps the count and announces the row
     * itself: the trigger's own update and notice cost more than the rest
     * of the claim together. */
    "CREATE FUNCTION licsrv_claim(a bytea, p bytea, proj text, dom text, t bigint, lv bigint,"
    " cap bigint, tok text, act text, subj text, OUT outcome integer, OUT used bigint)"
    " LANGUAGE plpgsql AS $f$ DECLARE rv bigint; BEGIN"
    "  UPDATE licsrv_accounts SET nregs = nregs + 1 WHERE id = a AND revoked_at = 0"
    "   AND nregs < cap RETURNING nregs INTO used;"
    "  IF FOUND THEN"
    "   PERFORM set_config('licsrv.claim', 'on', true);"
    "   INSERT INTO licsrv_registrations (account, project_id, project, domain, created,"
    "    last_valid) VALUES (a, p, proj, dom, t, lv) ON CONFLICT (account, project_id) DO NOTHING;"
    "   IF FOUND THEN"
    "    PERFORM set_config('licsrv.claim', '', true);"
    "    INSERT INTO licsrv_audit (time, token, action, subject) VALUES (t, tok, act, subj);"
    "    PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', 'r ' || encode(a, 'hex') || ' '"
    "     || encode(p, 'hex') || licsrv_origin());"
    "    outcome := 4; RETURN;"
    "   END IF;"
    "   PERFORM set_config('licsrv.claim', '', true);"
    "   UPDATE licsrv_accounts SET nregs = nregs - 1 WHERE id = a RETURNING nregs INTO used;"
    "   outcome := 2; RETURN;"
    "  END IF;"
    "  SELECT revoked_at, nregs INTO rv, used FROM licsrv_accounts WHERE id = a FOR UPDATE;"
    "  IF NOT FOUND THEN outcome := 0; used := 0; RETURN; END IF;"
    "  IF rv <> 0 THEN outcome := 1; used := 0; RETURN; END IF;"
    "  PERFORM 1 FROM licsrv_registrations WHERE account = a AND project_id = p;"
    "  outcome := CASE WHEN FOUND THEN 2 ELSE 3 END;"
    " END $f$;"
    "DROP TRIGGER licsrv_accounts_notify ON licsrv_accounts;"
    "CREATE TRIGGER licsrv_accounts_notify AFTER INSERT OR DELETE ON licsrv_accounts"
    " FOR EACH ROW EXECUTE FUNCTION licsrv_notify('a', 'id');"
    "CREATE TRIGGER licsrv_accounts_notify_update AFTER UPDATE ON licsrv_accounts"
    " FOR EACH ROW WHEN (OLD.env IS DISTINCT FROM NEW.env OR OLD.imported IS DISTINCT FROM"
    " NEW.imported OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.id <> NEW.id)"
    " EXECUTE FUNCTION licsrv_notify('a', 'id');"
    /* after the triggers: the backfill announces nothing */
    "UPDATE licsrv_accounts a SET nregs = (SELECT count(*) FROM licsrv_registrations r"
    " WHERE r.account = a.id)";

/* Version 4: another process's registration reaches a copy from the notice
 * itself, never a read. A registration written announces its row ("R
 * ACCOUNT PROJECT CREATED LAST_VALID HEX(project) HEX(domain) ORIGIN": what
 * the verify path reads, at most 889 bytes, well under NOTIFY's 8000), one
 * deleted "d ACCOUNT PROJECT ORIGIN" (store/pg/notify.c). The count and the
 * claim are version 3's, with the new payloads; licsrv_release() is an
 * unregistration in one statement. */
#define PGS_ROW_NOTICE(acc, pid, proj, dom, cr, lv)                                        \
  "'R ' || encode(" acc ", 'hex') || ' ' || encode(" pid ", 'hex') || ' ' || " cr            \
  " || ' ' || " lv " || ' ' || encode(convert_to(" proj ", 'UTF8'), 'hex') || ' ' ||"        \
  " encode(convert_to(" dom ", 'UTF8'), 'hex') || licsrv_origin()"
static const char MIGRATION_4[] =
    "CREATE OR REPLACE FUNCTION licsrv_reg_change() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN"
    "  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.account <> NEW.account"
    "   OR OLD.project_id <> NEW.project_id)) THEN"
    "   IF TG_OP = 'DELETE' OR OLD.account <> NEW.account THEN"
    "    UPDATE licsrv_accounts SET nregs = nregs - 1 WHERE id = OLD.account;"
    "   END IF;"
    "   PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', 'd ' || encode(OLD.account, 'hex') || ' '"
    "    || encode(OLD.project_id, 'hex') || licsrv_origin());"
    "  END IF;"
    "  IF TG_OP <> 'DELETE' THEN"
    "   IF TG_OP = 'INSERT' OR OLD.account <> NEW.account THEN"
    "    UPDATE licsrv_accounts SET nregs = nregs + 1 WHERE id = NEW.account;"
    "   END IF;"
    "   PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', "
    PGS_ROW_NOTICE("NEW.account", "NEW.project_id", "NEW.project", "NEW.domain", "NEW.created",
                   "NEW.last_valid") ");"
    "  END IF;"
    "  RETURN NULL; END $f$;"
    "CREATE OR REPLACE FUNCTION licsrv_claim(a bytea, p bytea, proj text, dom text, t bigint,"
    " lv bigint, cap bigint, tok text, act text, subj text, OUT outcome integer, OUT used bigint)"
    " LANGUAGE plpgsql AS $f$ DECLARE rv bigint; BEGIN"
    "  UPDATE licsrv_accounts SET nregs = nregs + 1 WHERE id = a AND revoked_at = 0"
    "   AND nregs < cap RETURNING nregs INTO used;"
    "  IF FOUND THEN"
    "   PERFORM set_config('licsrv.claim', 'on', true);"
    "   INSERT INTO licsrv_registrations (account, project_id, project, domain, created,"
    "    last_valid) VALUES (a, p, proj, dom, t, lv) ON CONFLICT (account, project_id) DO NOTHING;"
    "   IF FOUND THEN"
    "    PERFORM set_config('licsrv.claim', '', true);"
    "    INSERT INTO licsrv_audit (time, token, action, subject) VALUES (t, tok, act, subj);"
    "    PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', "
    PGS_ROW_NOTICE("a", "p", "proj", "dom", "t", "lv") ");"
    "    outcome := 4; RETURN;"
    "   END IF;"
    "   PERFORM set_config('licsrv.claim', '', true);"
    "   UPDATE licsrv_accounts SET nregs = nregs - 1 WHERE id = a RETURNING nregs INTO used;"
    "   outcome := 2; RETURN;"
    "  END IF;"
    "  SELECT revoked_at, nregs INTO rv, used FROM licsrv_accounts WHERE id = a FOR UPDATE;"
    "  IF NOT FOUND THEN outcome := 0; used := 0; RETURN; END IF;"
    "  IF rv <> 0 THEN outcome := 1; used := 0; RETURN; END IF;"
    "  PERFORM 1 FROM licsrv_registrations WHERE account = a AND project_id = p;"
    "  outcome := CASE WHEN FOUND THEN 2 ELSE 3 END;"
    " END $f$;"
    /* an unregistration in one round trip (store_w_registration_release):
     * outcome 0 no account, 1 revoked, 2 not registered, 3 removed; used the
     * count after it. Under the account's row lock like the claim; the
     * delete's trigger is told to leave the count and the notice to it. */
    "CREATE FUNCTION licsrv_release(a bytea, p bytea, t bigint, tok text, act text, subj text,"
    " OUT outcome integer, OUT used bigint) LANGUAGE plpgsql AS $f$ DECLARE rv bigint; BEGIN"
    "  SELECT revoked_at, nregs INTO rv, used FROM licsrv_accounts WHERE id = a FOR UPDATE;"
    "  IF NOT FOUND THEN outcome := 0; used := 0; RETURN; END IF;"
    "  IF rv <> 0 THEN outcome := 1; used := 0; RETURN; END IF;"
    "  PERFORM set_config('licsrv.claim', 'on', true);"
    "  DELETE FROM licsrv_registrations WHERE account = a AND project_id = p;"
    "  IF NOT FOUND THEN"
    "   PERFORM set_config('licsrv.claim', '', true);"
    "   outcome := 2; RETURN;"
    "  END IF;"
    "  PERFORM set_config('licsrv.claim', '', true);"
    "  UPDATE licsrv_accounts SET nregs = nregs - 1 WHERE id = a RETURNING nregs INTO used;"
    "  INSERT INTO licsrv_audit (time, token, action, subject) VALUES (t, tok, act, subj);"
    "  PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', 'd ' || encode(a, 'hex') || ' '"
    "   || encode(p, 'hex') || licsrv_origin());"
    "  outcome := 3;"
    " END $f$";

/* Version 5: each account's records counted, as LMDB's usage database counts
 * them (store/lmdb/usage.c): its registrations, its node records, and the
 * audit entries whose subject starts with "account:ID" (licsrv_subject_owner,
 * the rule of lmdb__usage_subject). The per-account quota (docs/server.md
 * "Store quota") is checked inside licsrv_claim(), with no round trip more.
 * The count is in two places, each kept in the writing transaction:
 * - licsrv_accounts.nrecords: what licsrv_claim()/licsrv_release() write
 *   (their registration and audit entry, in the update of the row whose lock
 *   they take anyway, as nregs) and the registrations' trigger. Set from the
 *   tables when an account row is inserted, as nregs (records outlive their
 *   account row: a plain account delete leaves them).
 * - licsrv_usage (owner, records), a signed sum of what every other writer
 *   adds and deletes: node rows (the heartbeat batch's upserts, a push-out's
 *   delete, purge, forget) and audit entries of other paths (purge's bulk
 *   delete too), by statement-level triggers over transition tables, one
 *   statement per table and statement. Not on the account row: the
 *   heartbeat batch rides in the same transaction as a group's claims, and
 *   two processes' groups locking each other's accounts in the batch after
 *   their claims would deadlock; a claim only reads this row.
 * The account's records: GREATEST(nrecords + records, 0). A claim or release
 * whose audit subject names its own account (always, from routes/public.c)
 * counts that entry itself; any other subject is left to the trigger. */
static const char MIGRATION_5[] =
    "CREATE FUNCTION licsrv_subject_owner(s text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $f$"
    " SELECT CASE WHEN s ~ '^account:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    "[0-9a-fA-F]{4}-[0-9a-fA-F]{12}' THEN decode(replace(substr(s, 9, 36), '-', ''), 'hex')"
    " END $f$;"
    "ALTER TABLE licsrv_accounts ADD COLUMN nrecords bigint NOT NULL DEFAULT 0;"
    "CREATE TABLE licsrv_usage (owner bytea PRIMARY KEY, records bigint NOT NULL DEFAULT 0);"
    "CREATE FUNCTION licsrv_usage_counted() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " DECLARE sgn bigint := CASE WHEN TG_OP = 'DELETE' THEN -1 ELSE 1 END; BEGIN"
    "  IF TG_TABLE_NAME = 'licsrv_nodes' THEN"
    "   INSERT INTO licsrv_usage (owner, records) SELECT owner, sgn * count(*)"
    "    FROM licsrv_changed GROUP BY owner ORDER BY owner"
    "    ON CONFLICT (owner) DO UPDATE SET records = licsrv_usage.records + EXCLUDED.records;"
    "  ELSE"
    "   INSERT INTO licsrv_usage (owner, records) SELECT o, sgn * count(*)"
    "    FROM (SELECT licsrv_subject_owner(subject) AS o FROM licsrv_changed) x"
    "    WHERE o IS NOT NULL GROUP BY o ORDER BY o"
    "    ON CONFLICT (owner) DO UPDATE SET records = licsrv_usage.records + EXCLUDED.records;"
    "  END IF;"
    "  RETURN NULL; END $f$;"
    "CREATE TRIGGER licsrv_nodes_added AFTER INSERT ON licsrv_nodes"
    " REFERENCING NEW TABLE AS licsrv_changed FOR EACH STATEMENT"
    " EXECUTE FUNCTION licsrv_usage_counted();"
    "CREATE TRIGGER licsrv_nodes_deleted AFTER DELETE ON licsrv_nodes"
    " REFERENCING OLD TABLE AS licsrv_changed FOR EACH STATEMENT"
    " EXECUTE FUNCTION licsrv_usage_counted();"
    "CREATE TRIGGER licsrv_audit_added AFTER INSERT ON licsrv_audit"
    " REFERENCING NEW TABLE AS licsrv_changed FOR EACH STATEMENT"
    " WHEN (current_setting('licsrv.claim', true) IS DISTINCT FROM 'on')"
    " EXECUTE FUNCTION licsrv_usage_counted();"
    "CREATE TRIGGER licsrv_audit_deleted AFTER DELETE ON licsrv_audit"
    " REFERENCING OLD TABLE AS licsrv_changed FOR EACH STATEMENT"
    " EXECUTE FUNCTION licsrv_usage_counted();"
    "CREATE OR REPLACE FUNCTION licsrv_reg_change() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN"
    "  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.account <> NEW.account"
    "   OR OLD.project_id <> NEW.project_id)) THEN"
    "   IF TG_OP = 'DELETE' OR OLD.account <> NEW.account THEN"
    "    UPDATE licsrv_accounts SET nregs = nregs - 1, nrecords = GREATEST(nrecords - 1, 0)"
    "     WHERE id = OLD.account;"
    "   END IF;"
    "   PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', 'd ' || encode(OLD.account, 'hex') || ' '"
    "    || encode(OLD.project_id, 'hex') || licsrv_origin());"
    "  END IF;"
    "  IF TG_OP <> 'DELETE' THEN"
    "   IF TG_OP = 'INSERT' OR OLD.account <> NEW.account THEN"
    "    UPDATE licsrv_accounts SET nregs = nregs + 1, nrecords = nrecords + 1"
    "     WHERE id = NEW.account;"
    "   END IF;"
    "   PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', "
    PGS_ROW_NOTICE("NEW.account", "NEW.project_id", "NEW.project", "NEW.domain", "NEW.created",
                   "NEW.last_valid") ");"
    "  END IF;"
    "  RETURN NULL; END $f$;"
    /* a new account row: its counts from the tables (an insert that becomes
     * the update of an existing row keeps that row's counts) */
    "CREATE OR REPLACE FUNCTION licsrv_account_nregs() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN"
    "  IF EXISTS (SELECT 1 FROM licsrv_accounts WHERE id = NEW.id) THEN RETURN NEW; END IF;"
    "  NEW.nregs := (SELECT count(*) FROM licsrv_registrations WHERE account = NEW.id);"
    "  NEW.nrecords := NEW.nregs + (SELECT count(*) FROM licsrv_nodes WHERE owner = NEW.id)"
    "   + (SELECT count(*) FROM licsrv_audit WHERE licsrv_subject_owner(subject) = NEW.id);"
    "  DELETE FROM licsrv_usage WHERE owner = NEW.id;"
    "  RETURN NEW; END $f$;"
    /* outcome 5: the account holds q records or more than q - 2 (q > 0):
     * nothing written, recs the count (checked after the account's presence,
     * before its revocation and its project: the order of routes/public.c on
     * LMDB, whose quota check comes before the claim) */
    "DROP FUNCTION licsrv_claim(bytea, bytea, text, text, bigint, bigint, bigint, text, text, text);"
    "CREATE FUNCTION licsrv_claim(a bytea, p bytea, proj text, dom text, t bigint, lv bigint,"
    " cap bigint, tok text, act text, subj text, q bigint, OUT outcome integer, OUT used bigint,"
    " OUT recs bigint) LANGUAGE plpgsql AS $f$ DECLARE rv bigint; o bytea;"
    "  k bigint; ext bigint := 0; BEGIN"
    "  o := licsrv_subject_owner(subj);"
    "  k := CASE WHEN o = a THEN 2 ELSE 1 END;"
    "  IF q > 0 THEN ext := COALESCE((SELECT records FROM licsrv_usage WHERE owner = a), 0); END IF;"
    "  UPDATE licsrv_accounts SET nregs = nregs + 1, nrecords = nrecords + k WHERE id = a"
    "   AND revoked_at = 0 AND nregs < cap AND (q <= 0 OR nrecords + ext + 2 <= q)"
    "   RETURNING nregs, nrecords + ext INTO used, recs;"
    "  IF FOUND THEN"
    "   PERFORM set_config('licsrv.claim', 'on', true);"
    "   INSERT INTO licsrv_registrations (account, project_id, project, domain, created,"
    "    last_valid) VALUES (a, p, proj, dom, t, lv) ON CONFLICT (account, project_id) DO NOTHING;"
    "   IF FOUND THEN"
    "    IF o IS NOT NULL AND o <> a THEN PERFORM set_config('licsrv.claim', '', true); END IF;"
    "    INSERT INTO licsrv_audit (time, token, action, subject) VALUES (t, tok, act, subj);"
    "    PERFORM set_config('licsrv.claim', '', true);"
    "    PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', "
    PGS_ROW_NOTICE("a", "p", "proj", "dom", "t", "lv") ");"
    "    outcome := 4; RETURN;"
    "   END IF;"
    "   PERFORM set_config('licsrv.claim', '', true);"
    "   UPDATE licsrv_accounts SET nregs = nregs - 1, nrecords = nrecords - k WHERE id = a"
    "    RETURNING nregs, nrecords + ext INTO used, recs;"
    "   outcome := 2; RETURN;"
    "  END IF;"
    "  SELECT revoked_at, nregs, nrecords INTO rv, used, recs FROM licsrv_accounts WHERE id = a"
    "   FOR UPDATE;"
    "  IF NOT FOUND THEN outcome := 0; used := 0; recs := 0; RETURN; END IF;"
    "  recs := GREATEST(recs + COALESCE((SELECT records FROM licsrv_usage WHERE owner = a), 0), 0);"
    "  IF q > 0 AND recs + 2 > q THEN outcome := 5; RETURN; END IF;"
    "  IF rv <> 0 THEN outcome := 1; used := 0; RETURN; END IF;"
    "  PERFORM 1 FROM licsrv_registrations WHERE account = a AND project_id = p;"
    "  outcome := CASE WHEN FOUND THEN 2 ELSE 3 END;"
    " END $f$;"
    "CREATE OR REPLACE FUNCTION licsrv_release(a bytea, p bytea, t bigint, tok text, act text,"
    " subj text, OUT outcome integer, OUT used bigint) LANGUAGE plpgsql AS $f$"
    " DECLARE rv bigint; o bytea; BEGIN"
    "  SELECT revoked_at, nregs INTO rv, used FROM licsrv_accounts WHERE id = a FOR UPDATE;"
    "  IF NOT FOUND THEN outcome := 0; used := 0; RETURN; END IF;"
    "  IF rv <> 0 THEN outcome := 1; used := 0; RETURN; END IF;"
    "  PERFORM set_config('licsrv.claim', 'on', true);"
    "  DELETE FROM licsrv_registrations WHERE account = a AND project_id = p;"
    "  IF NOT FOUND THEN"
    "   PERFORM set_config('licsrv.claim', '', true);"
    "   outcome := 2; RETURN;"
    "  END IF;"
    "  o := licsrv_subject_owner(subj);"
    "  UPDATE licsrv_accounts SET nregs = nregs - 1, nrecords = GREATEST(nrecords - 1, 0)"
    "   + CASE WHEN o = a THEN 1 ELSE 0 END WHERE id = a RETURNING nregs INTO used;"
    "  IF o IS NOT NULL AND o <> a THEN PERFORM set_config('licsrv.claim', '', true); END IF;"
    "  INSERT INTO licsrv_audit (time, token, action, subject) VALUES (t, tok, act, subj);"
    "  PERFORM set_config('licsrv.claim', '', true);"
    "  PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', 'd ' || encode(a, 'hex') || ' '"
    "   || encode(p, 'hex') || licsrv_origin());"
    "  outcome := 3;"
    " END $f$;"
    /* the backfill, one pass over each table */
    "UPDATE licsrv_accounts a SET nrecords = t.n FROM (SELECT o, sum(n)::bigint AS n FROM"
    " (SELECT account AS o, count(*) AS n FROM licsrv_registrations GROUP BY 1"
    "  UNION ALL SELECT owner, count(*) FROM licsrv_nodes GROUP BY 1"
    "  UNION ALL SELECT licsrv_subject_owner(subject), count(*) FROM licsrv_audit GROUP BY 1) u"
    " WHERE o IS NOT NULL GROUP BY o) t WHERE t.o = a.id";

/* Version 6: the public listener's audit repeats merged across processes,
 * as LMDB merges its own (store.h, STORE_AUDIT_COALESCE_TOKEN): an entry of
 * token "public" repeating the action and subject of one in the same clock
 * hour (time / STORE_AUDIT_COALESCE_S) adds one to that entry's count and
 * moves its last time (last 0: the entry's own time), by the unique partial
 * index and INSERT ... ON CONFLICT DO UPDATE, so two processes' repeats
 * meet in one row. A merge is no new record: the insert triggers of version
 * 5 see inserted rows only, and the claim and the release count their entry
 * only when it was inserted. The repeats already stored are merged here. */
static const char MIGRATION_6[] =
    "ALTER TABLE licsrv_audit ADD COLUMN count bigint NOT NULL DEFAULT 1,"
    " ADD COLUMN last bigint NOT NULL DEFAULT 0;"
    "UPDATE licsrv_audit a SET count = g.n, last = g.l FROM (SELECT min(seq) AS keep,"
    " count(*) AS n, max(time) AS l FROM licsrv_audit WHERE token = '" STORE_AUDIT_COALESCE_TOKEN
    "' GROUP BY action, subject, time / " PGS_STR(STORE_AUDIT_COALESCE_S) " HAVING count(*) > 1) g"
    " WHERE a.seq = g.keep;"
    "DELETE FROM licsrv_audit a USING (SELECT seq, min(seq) OVER (PARTITION BY action, subject,"
    " time / " PGS_STR(STORE_AUDIT_COALESCE_S) ") AS keep FROM licsrv_audit WHERE token = '"
    STORE_AUDIT_COALESCE_TOKEN "') g WHERE a.seq = g.seq AND g.seq <> g.keep;"
    "CREATE UNIQUE INDEX licsrv_audit_coalesce ON licsrv_audit (action, subject,"
    " (time / " PGS_STR(STORE_AUDIT_COALESCE_S) ")) WHERE token = '" STORE_AUDIT_COALESCE_TOKEN "';"
    "CREATE OR REPLACE FUNCTION licsrv_claim(a bytea, p bytea, proj text, dom text, t bigint,"
    " lv bigint, cap bigint, tok text, act text, subj text, q bigint, OUT outcome integer,"
    " OUT used bigint, OUT recs bigint) LANGUAGE plpgsql AS $f$ DECLARE rv bigint; o bytea;"
    "  k bigint; ext bigint := 0; ins boolean; BEGIN"
    "  o := licsrv_subject_owner(subj);"
    "  k := CASE WHEN o = a THEN 2 ELSE 1 END;"
    "  IF q > 0 THEN ext := COALESCE((SELECT records FROM licsrv_usage WHERE owner = a), 0); END IF;"
    "  UPDATE licsrv_accounts SET nregs = nregs + 1, nrecords = nrecords + k WHERE id = a"
    "   AND revoked_at = 0 AND nregs < cap AND (q <= 0 OR nrecords + ext + 2 <= q)"
    "   RETURNING nregs, nrecords + ext INTO used, recs;"
    "  IF FOUND THEN"
    "   PERFORM set_config('licsrv.claim', 'on', true);"
    "   INSERT INTO licsrv_registrations (account, project_id, project, domain, created,"
    "    last_valid) VALUES (a, p, proj, dom, t, lv) ON CONFLICT (account, project_id) DO NOTHING;"
    "   IF FOUND THEN"
    "    IF o IS NOT NULL AND o <> a THEN PERFORM set_config('licsrv.claim', '', true); END IF;"
    "    INSERT INTO licsrv_audit (time, token, action, subject) VALUES (t, tok, act, subj)"
    PGS_AUDIT_MERGE " RETURNING xmax = 0 INTO ins;"
    "    PERFORM set_config('licsrv.claim', '', true);"
    "    IF NOT ins AND o = a THEN"
    "     UPDATE licsrv_accounts SET nrecords = nrecords - 1 WHERE id = a;"
    "     recs := recs - 1;"
    "    END IF;"
    "    PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', "
    PGS_ROW_NOTICE("a", "p", "proj", "dom", "t", "lv") ");"
    "    outcome := 4; RETURN;"
    "   END IF;"
    "   PERFORM set_config('licsrv.claim', '', true);"
    "   UPDATE licsrv_accounts SET nregs = nregs - 1, nrecords = nrecords - k WHERE id = a"
    "    RETURNING nregs, nrecords + ext INTO used, recs;"
    "   outcome := 2; RETURN;"
    "  END IF;"
    "  SELECT revoked_at, nregs, nrecords INTO rv, used, recs FROM licsrv_accounts WHERE id = a"
    "   FOR UPDATE;"
    "  IF NOT FOUND THEN outcome := 0; used := 0; recs := 0; RETURN; END IF;"
    "  recs := GREATEST(recs + COALESCE((SELECT records FROM licsrv_usage WHERE owner = a), 0), 0);"
    "  IF q > 0 AND recs + 2 > q THEN outcome := 5; RETURN; END IF;"
    "  IF rv <> 0 THEN outcome := 1; used := 0; RETURN; END IF;"
    "  PERFORM 1 FROM licsrv_registrations WHERE account = a AND project_id = p;"
    "  outcome := CASE WHEN FOUND THEN 2 ELSE 3 END;"
    " END $f$;"
    "CREATE OR REPLACE FUNCTION licsrv_release(a bytea, p bytea, t bigint, tok text, act text,"
    " subj text, OUT outcome integer, OUT used bigint) LANGUAGE plpgsql AS $f$"
    " DECLARE rv bigint; o bytea; ins boolean; BEGIN"
    "  SELECT revoked_at, nregs INTO rv, used FROM licsrv_accounts WHERE id = a FOR UPDATE;"
    "  IF NOT FOUND THEN outcome := 0; used := 0; RETURN; END IF;"
    "  IF rv <> 0 THEN outcome := 1; used := 0; RETURN; END IF;"
    "  PERFORM set_config('licsrv.claim', 'on', true);"
    "  DELETE FROM licsrv_registrations WHERE account = a AND project_id = p;"
    "  IF NOT FOUND THEN"
    "   PERFORM set_config('licsrv.claim', '', true);"
    "   outcome := 2; RETURN;"
    "  END IF;"
    "  o := licsrv_subject_owner(subj);"
    "  IF o IS NOT NULL AND o <> a THEN PERFORM set_config('licsrv.claim', '', true); END IF;"
    "  INSERT INTO licsrv_audit (time, token, action, subject) VALUES (t, tok, act, subj)"
    PGS_AUDIT_MERGE " RETURNING xmax = 0 INTO ins;"
    "  PERFORM set_config('licsrv.claim', '', true);"
    "  UPDATE licsrv_accounts SET nregs = nregs - 1, nrecords = GREATEST(nrecords - 1, 0)"
    "   + CASE WHEN o = a AND ins THEN 1 ELSE 0 END WHERE id = a RETURNING nregs INTO used;"
    "  PERFORM pg_notify('" PGS_NOTIFY_CHANNEL "', 'd ' || encode(a, 'hex') || ' '"
    "   || encode(p, 'hex') || licsrv_origin());"
    "  outcome := 3;"
    " END $f$";

static const char *const MIGRATIONS[PGS_SCHEMA_VERSION] = {MIGRATION_1, MIGRATION_2, MIGRATION_3,
                                                           MIGRATION_4, MIGRATION_5,
                                                           MIGRATION_6};

int pgs__schema_get(PGconn *c, int *version) {
  PGresult *r = NULL;
  int rc = pgs__exec(c, "SELECT to_regclass('licsrv_meta') IS NOT NULL", NULL, &r);
  *version = 0;
  if (rc != LIC_OK)
    return rc;
  bool present = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 1;
  PQclear(r);
  if (!present)
    return LIC_OK;
  if ((rc = pgs__exec(c, "SELECT schema FROM licsrv_meta", NULL, &r)) != LIC_OK)
    return rc;
  if (PQntuples(r) != 1)
    rc = lic_fail(LIC_FORMAT, "postgresql: licsrv_meta holds %d rows, not one", PQntuples(r));
  else
    *version = pgs__i32(r, 0, 0);
  PQclear(r);
  return rc;
}

int pgs__migrate(PGconn *c, int from) {
  (void)from;
  return pgs__migrate_to(c, PGS_SCHEMA_VERSION);
}

int pgs__migrate_to(PGconn *c, int to) {
  int rc, v;
  if (to < 1 || to > PGS_SCHEMA_VERSION)
    return lic_fail(LIC_INVALID, "postgresql: no schema version %d", to);
  if ((rc = pgs__run(c, "BEGIN", NULL)) != LIC_OK)
    return rc;
  /* Another process may be migrating: wait for it, then read again. */
  if ((rc = pgs__run(c, "SELECT pg_advisory_xact_lock(7470)", NULL)) != LIC_OK ||
      (rc = pgs__schema_get(c, &v)) != LIC_OK)
    goto out;
  if (v > PGS_SCHEMA_VERSION) {
    rc = lic_fail(LIC_FORMAT, "postgresql: schema version %d is newer than this licsrv's (%d)", v,
                  PGS_SCHEMA_VERSION);
    goto out;
  }
  for (; v < to; v++) {
    pgs_params p = {0};
    if ((rc = pgs__script(c, MIGRATIONS[v])) != LIC_OK)
      goto out;
    pgs__p_i64(&p, v + 1);
    if ((rc = pgs__run(c, "UPDATE licsrv_meta SET schema = $1::integer", &p)) != LIC_OK)
      goto out;
  }
  rc = pgs__run(c, "COMMIT", NULL);
out:
  if (rc != LIC_OK && pgs__conn_ok(c))
    pgs__run(c, "ROLLBACK", NULL);
  return rc;
}

int pgs_open(const char *url, unsigned flags, store **out) {
  return pgs_open_with(url, flags, NULL, out);
}

int pgs_open_with(const char *url, unsigned flags, const pgs_open_opts *o, store **out) {
  pgs_store *s = calloc(1, sizeof *s);
  int rc, v = 0;
  bool mu = false;

  *out = NULL;
  if (s == NULL || (s->url = strdup(url)) == NULL) {
    rc = LIC_NOMEM;
    goto out;
  }
  s->ops = &pgs_ops;
  s->rdonly = (flags & STORE_RDONLY) != 0;
  if (pgs__writer_init(s) != LIC_OK) {
    rc = lic_fail(LIC_NOMEM, "store: cannot create locks");
    goto out;
  }
  pgs__cache_init(s, o != NULL ? o->cache_hook : NULL);
  pgs__listen_init(s);
  pgs__stop_init(s);
  pgs__readq_init(s);
  mu = true;
  if ((rc = pgs__connect(url, &s->wc.c)) != LIC_OK ||
      (rc = pgs__schema_get(s->wc.c, &v)) != LIC_OK)
    goto out;
  if (v == 0 && (flags & STORE_CREATE) == 0) {
    rc = lic_fail(LIC_NOTFOUND, "postgresql: no licsrv schema in this database "
                                "(run 'licsrv init --mode public --store URL')");
    goto out;
  }
  if (v > PGS_SCHEMA_VERSION) {
    rc = lic_fail(LIC_FORMAT, "postgresql: schema version %d is newer than this licsrv's (%d)", v,
                  PGS_SCHEMA_VERSION);
    goto out;
  }
  if (v < PGS_SCHEMA_VERSION) {
    if (v > 0 && (flags & STORE_MIGRATE) == 0) {
      rc = lic_fail(LIC_FORMAT, "postgresql: schema version %d, this licsrv needs %d "
                                "(run 'licsrv migrate')", v, PGS_SCHEMA_VERSION);
      goto out;
    }
    if (s->rdonly) {
      rc = lic_fail(LIC_INVALID, "postgresql: cannot create or migrate a read-only store");
      goto out;
    }
    if ((rc = pgs__migrate(s->wc.c, v)) != LIC_OK)
      goto out;
  }
  if (RAND_bytes(s->origin, sizeof s->origin) != 1) {
    rc = lic_fail(LIC_IO, "cannot draw this process's origin (random bytes)");
    goto out;
  }
  for (size_t i = 0; i < sizeof s->origin; i++)
    snprintf(s->origin_hex + 2 * i, 3, "%02x", s->origin[i]);
  pgs__pipe_reset(s);
  if ((rc = pgs__wconn_session(s)) != LIC_OK)
    goto out;
  pgs__writer_set_up(s, true);
  if ((flags & STORE_CACHED) != 0) {
    if ((rc = pgs__cache_load_all(s, s->wc.c)) != LIC_OK)
      goto out;
    s->cached = true;
    if ((rc = pgs__listen_start(s)) != LIC_OK)
      goto out;
  }
  if (!s->rdonly) {
    if ((rc = pgs__writer_start(s)) != LIC_OK)
      goto out;
    pgs__stop_arm(s);
  }
  *out = (store *)s;
  return LIC_OK;
out:
  if (s != NULL) {
    if (mu) {
      pgs__listen_stop(s);
      PQfinish(s->wc.c);
      pgs__readq_free(s);
      pgs__stop_end(s);
      pgs__cache_free(s);
      pgs__pipe_free(s);
      pgs__writer_free(s);
      pgs__listen_free(s);
    }
    free(s->url);
    free(s);
  }
  return rc;
}

void pgs_close(store *st) {
  pgs_store *s = (pgs_store *)st;
  pgs__readq_free(s); /* its done callbacks may still write: before the writer stops */
  pgs__writer_stop(s);
  pgs__stop_end(s);
  pgs__listen_stop(s);
  PQfinish(s->wc.c);
  pgs__cache_free(s);
  pgs__pipe_free(s);
  pgs__writer_free(s);
  pgs__listen_free(s);
  free(s->url);
  free(s);
}

/* ---- meta -------------------------------------------------------------------- */

int pgs_meta_get(store_reader *r, store_meta *m) {
  pgs_reader *rd = (pgs_reader *)r;
  PGconn *c;
  PGresult *res = NULL;
  int rc;
  memset(m, 0, sizeof *m);
  if ((rc = pgs__rconn(rd, &c)) != LIC_OK ||
      (rc = pgs__exec(c, "SELECT schema, mode, node_kid, node_pub, project_id, created, clock_hwm"
                         " FROM licsrv_meta", NULL, &res)) != LIC_OK)
    return rc;
  if (PQntuples(res) != 1) {
    rc = lic_fail(LIC_FORMAT, "postgresql: licsrv_meta holds %d rows, not one", PQntuples(res));
    goto out;
  }
  m->schema = (uint32_t)pgs__i32(res, 0, 0);
  if ((rc = pgs__text(res, 0, 1, m->mode, sizeof m->mode)) != LIC_OK)
    goto out;
  if (!PQgetisnull(res, 0, 2)) {
    if ((rc = pgs__fixed(res, 0, 2, m->node_kid, LIC_KID_LEN)) != LIC_OK ||
        (rc = pgs__fixed(res, 0, 3, m->node_pub, LIC_PUBKEY_LEN)) != LIC_OK ||
        (rc = pgs__fixed(res, 0, 4, m->project_id, LIC_ID_LEN)) != LIC_OK)
      goto out;
    m->has_node_key = true;
  }
  m->created = pgs__i64(res, 0, 5);
  m->clock_hwm = pgs__i64(res, 0, 6);
  int64_t p = pgs__writer_hwm_pending(rd->s);
  if (p > m->clock_hwm)
    m->clock_hwm = p;
out:
  PQclear(res);
  return rc;
}

int pgs_w_meta_init(store_wtxn *wt, const char *mode, const uint8_t kid[LIC_KID_LEN],
                    const uint8_t pub[LIC_PUBKEY_LEN], const uint8_t project_id[LIC_ID_LEN],
                    int64_t now) {
  pgs_wtxn *w = (pgs_wtxn *)wt;
  pgs_params p = {0};
  PGresult *res;
  int rc;
  if (strcmp(mode, "public") != 0)
    return pgs__private_only("licsrv init --mode private");
  pgs__p_text(&p, mode);
  pgs__p_bytes(&p, kid, LIC_KID_LEN);
  pgs__p_bytes(&p, pub, LIC_PUBKEY_LEN);
  pgs__p_bytes(&p, project_id, LIC_ID_LEN);
  pgs__p_i64(&p, now);
  if ((rc = pgs__exec(w->c, "UPDATE licsrv_meta SET mode = $1, node_kid = $2, node_pub = $3,"
                            " project_id = $4, created = $5::bigint WHERE mode = ''",
                      &p, &res)) != LIC_OK)
    return rc;
  bool hit = strcmp(PQcmdTuples(res), "1") == 0;
  PQclear(res);
  return hit ? LIC_OK : lic_fail(LIC_EXISTS, "the store is already initialized");
}

int pgs_clock_hwm_get(store_reader *r, int64_t *t) {
  pgs_reader *rd = (pgs_reader *)r;
  PGconn *c;
  PGresult *res;
  int rc;
  *t = 0;
  if ((rc = pgs__rconn(rd, &c)) != LIC_OK ||
      (rc = pgs__exec(c, "SELECT clock_hwm FROM licsrv_meta", NULL, &res)) != LIC_OK)
    return rc;
  if (PQntuples(res) == 1)
    *t = pgs__i64(res, 0, 0);
  PQclear(res);
  int64_t p = pgs__writer_hwm_pending(rd->s);
  if (p > *t)
    *t = p;
  return LIC_OK;
}

/* `licsrv clock --reset`: the mark set down on purpose. */
int pgs_w_clock_hwm_reset(store_wtxn *wt, int64_t t) {
  pgs_params p = {0};
  pgs__p_i64(&p, t);
  return pgs__run(((pgs_wtxn *)wt)->c, "UPDATE licsrv_meta SET clock_hwm = $1::bigint", &p);
}

int pgs_w_cert_put(store_wtxn *wt, const uint8_t *env, size_t len) {
  pgs_params p = {0};
  pgs__p_bytes(&p, env, len);
  return pgs__run(((pgs_wtxn *)wt)->c, "UPDATE licsrv_meta SET cert = $1", &p);
}

int pgs_cert_get(store_reader *r, uint8_t **env, size_t *len) {
  PGconn *c;
  PGresult *res;
  int rc;
  *env = NULL;
  *len = 0;
  if ((rc = pgs__rconn((pgs_reader *)r, &c)) != LIC_OK ||
      (rc = pgs__exec(c, "SELECT cert FROM licsrv_meta WHERE cert IS NOT NULL", NULL, &res)) !=
          LIC_OK)
    return rc;
  rc = PQntuples(res) == 1 ? pgs__blob(res, 0, 0, env, len) : LIC_NOTFOUND;
  PQclear(res);
  return rc;
}

STORE_TABLE(pgs, "postgresql");
