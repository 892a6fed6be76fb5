-- 0001_core.sql - the durable tables of the pipeline.
--
-- Every arrow of the pipeline is a row here before the next step starts.
-- Idempotency comes from unique constraints: a document once per
-- (source, doc_id), an incident once per key, a delivery once per
-- (broadcast, address, round), a decision once per (approval, officer).

CREATE TABLE settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);

-- Directory -----------------------------------------------------------------
CREATE TABLE people (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    kana        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE person_addresses (
    person_id  text NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    address    text NOT NULL,
    position   int  NOT NULL DEFAULT 0,
    status     text NOT NULL DEFAULT 'unverified'
               CHECK (status IN ('unverified', 'valid', 'bouncing', 'invalid')),
    PRIMARY KEY (person_id, address)
);

CREATE TABLE person_regions (
    person_id  text NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    pref       int  NOT NULL CHECK (pref BETWEEN 1 AND 47),
    PRIMARY KEY (person_id, pref)
);
CREATE INDEX person_regions_pref ON person_regions (pref);

CREATE TABLE groups (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    parent_id  bigint REFERENCES groups(id),
    path       text NOT NULL UNIQUE      -- "本省/大臣官房/秘書課"; a top-level group's path is its name
);

CREATE TABLE group_members (
    group_id   bigint NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    person_id  text   NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, person_id)
);
CREATE INDEX group_members_person ON group_members (person_id);

-- Feeds and events ------------------------------------------------------------
CREATE TABLE feed_documents (
    id           bigserial PRIMARY KEY,
    source       text NOT NULL,
    doc_id       text NOT NULL,
    url          text,
    sha256       text NOT NULL,
    body         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    replay       boolean NOT NULL DEFAULT false,
    -- the same bytes again are the same document; the events inside are
    -- deduplicated on their own ids (a feed repeats items across versions)
    UNIQUE (source, sha256)
);
CREATE INDEX feed_documents_url ON feed_documents (url) WHERE url IS NOT NULL;

CREATE TABLE events (
    id             bigserial PRIMARY KEY,
    document_id    bigint NOT NULL REFERENCES feed_documents(id),
    type           text NOT NULL,
    source         text NOT NULL,
    doc_id         text NOT NULL,                 -- the source's id of the report (unique per source)
    kind           text NOT NULL DEFAULT '',
    status         text NOT NULL,
    info_type      text NOT NULL,
    event_key      text NOT NULL DEFAULT '',
    serial         text NOT NULL DEFAULT '',
    title          text NOT NULL DEFAULT '',
    issued_at      timestamptz,
    occurred_at    timestamptz,
    max_intensity  text NOT NULL DEFAULT '',
    cancelled      boolean NOT NULL DEFAULT false,
    detail         jsonb NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_key ON events (event_key);
CREATE UNIQUE INDEX events_source_doc ON events (source, doc_id);

-- Traveller registry: who is where, when (overseas risk mail and checks).
CREATE TABLE trips (
    id          bigserial PRIMARY KEY,
    person_id   text NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    country     text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    from_date   date NOT NULL,
    to_date     date NOT NULL CHECK (to_date >= from_date),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (person_id, country, from_date)
);
CREATE INDEX trips_country ON trips (country, from_date, to_date);

-- Incidents and approvals ------------------------------------------------------
CREATE TABLE incidents (
    id                bigserial PRIMARY KEY,
    incident_key      text NOT NULL UNIQUE,          -- rule id + ':' + event key of the main shock
    rule_id           text NOT NULL,
    pack              text NOT NULL DEFAULT '',
    type              text NOT NULL,
    status            text NOT NULL CHECK (status IN
                        ('pending_approval', 'approved', 'rejected', 'dispatched', 'closed', 'expired')),
    title             text NOT NULL,
    drill             boolean NOT NULL DEFAULT false,
    main_event_id     bigint REFERENCES events(id),
    main_occurred_at  timestamptz NOT NULL,
    main_max          text NOT NULL DEFAULT '',
    main_lat          double precision,
    main_lon          double precision,
    window_end        timestamptz NOT NULL,
    covered_prefs     int[] NOT NULL DEFAULT '{}',
    event_keys        text[] NOT NULL DEFAULT '{}',
    message           jsonb NOT NULL,                -- templates + questions + follow-up copied from the rule
    approval_policy   jsonb NOT NULL,                -- required, group, timeout, on_timeout, escalate_to
    expires_at        timestamptz NOT NULL,          -- nothing is mailed after this
    opened_at         timestamptz NOT NULL DEFAULT now(),
    closed_at         timestamptz,
    close_reason      text
);
CREATE INDEX incidents_open ON incidents (rule_id, status);

CREATE TABLE incident_events (
    incident_id  bigint NOT NULL REFERENCES incidents(id),
    event_id     bigint NOT NULL REFERENCES events(id),
    decision     text NOT NULL,        -- new, silent, add_prefs, stronger, stale
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, event_id)
);

-- One approval per gated round of an incident (the first round, prefectures
-- newly over the threshold, a stronger quake).
CREATE TABLE approvals (
    id            bigserial PRIMARY KEY,
    incident_id   bigint NOT NULL REFERENCES incidents(id),
    round_kind    text NOT NULL CHECK (round_kind IN ('initial', 'add_prefs', 'stronger')),
    prefs         int[] NOT NULL,
    reason        text NOT NULL,
    required      int NOT NULL DEFAULT 1,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
    deadline      timestamptz NOT NULL,
    on_timeout    text NOT NULL DEFAULT 'hold',
    escalated_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    decided_at    timestamptz
);
CREATE INDEX approvals_pending ON approvals (status) WHERE status = 'pending';

CREATE TABLE approval_decisions (
    approval_id  bigint NOT NULL REFERENCES approvals(id),
    decided_by   text NOT NULL,            -- "person:ID", "api", "cli:<user>", "timeout"
    decision     text NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment      text NOT NULL DEFAULT '',
    via          text NOT NULL,            -- link, api, cli, timeout
    source_addr  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (approval_id, decided_by)
);

-- Broadcasts and delivery -----------------------------------------------------
CREATE TABLE broadcasts (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('safety', 'approval', 'notice', 'info')),
    incident_id   bigint REFERENCES incidents(id),
    approval_id   bigint REFERENCES approvals(id),   -- safety: the approval that released it; approval: what it asks for
    dedupe_key    text UNIQUE,                       -- information mail: once per rule, event and report kind
    rule_id       text NOT NULL DEFAULT '',
    drill         boolean NOT NULL DEFAULT false,
    subject       text NOT NULL,                     -- templates; rendered per person at send time
    body          text NOT NULL,
    vars          jsonb NOT NULL DEFAULT '{}',       -- incident/event variables for the templates
    questions     jsonb NOT NULL DEFAULT '[]',
    resend_after  interval,
    max_resends   int NOT NULL DEFAULT 0,
    rounds_sent   int NOT NULL DEFAULT 0,
    last_round_at timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL DEFAULT 'engine',
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX broadcasts_one_per_approval ON broadcasts (approval_id) WHERE kind = 'safety';

CREATE TABLE recipients (
    id           bigserial PRIMARY KEY,
    broadcast_id bigint NOT NULL REFERENCES broadcasts(id),
    person_id    text NOT NULL REFERENCES people(id),
    answered_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (broadcast_id, person_id)
);
CREATE INDEX recipients_person ON recipients (person_id);

CREATE TABLE deliveries (
    id             bigserial PRIMARY KEY,
    broadcast_id   bigint NOT NULL REFERENCES broadcasts(id),
    recipient_id   bigint NOT NULL REFERENCES recipients(id),
    person_id      text NOT NULL,
    address        text NOT NULL,
    round          int NOT NULL DEFAULT 0,
    status         text NOT NULL DEFAULT 'queued' CHECK (status IN
                     ('queued', 'sending', 'sent', 'deferred', 'bounced', 'failed', 'cancelled', 'expired')),
    attempts       int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_owner    text,
    lease_until    timestamptz,
    last_reply     text,
    message_id     text NOT NULL,
    sent_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (broadcast_id, address, round)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('queued', 'deferred', 'sending');
CREATE INDEX deliveries_recipient ON deliveries (recipient_id);

-- Every answer is kept; the latest per (recipient, question) counts.
CREATE TABLE responses (
    id           bigserial PRIMARY KEY,
    recipient_id bigint NOT NULL REFERENCES recipients(id),
    question_id  text NOT NULL,
    choice       text NOT NULL,
    comment      text NOT NULL DEFAULT '',
    via          text NOT NULL DEFAULT 'web',
    source_addr  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX responses_recipient ON responses (recipient_id, question_id, id DESC);

-- Audit log: append-only (no UPDATE/DELETE through anpi).
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    object      text NOT NULL DEFAULT '',
    detail      jsonb NOT NULL DEFAULT '{}'
);
