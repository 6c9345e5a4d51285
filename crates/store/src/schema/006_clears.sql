-- Version 6: clears. Per class (metrics, traces, events), the newest cutoff a `clear`
-- record set: nothing of the class recorded before it is indexed again.

CREATE TABLE store_clears (
    class  TEXT    PRIMARY KEY,
    before INTEGER NOT NULL
);
