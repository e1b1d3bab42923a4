# A synthetic archive of N instances for bench/startup/run.sh: index rows with ~2.7 KB of metadata each (as the CT corpus),
# whose blob keys point at records in sparse 1 GB segment files (start-up reads only the unknown ranges, none here).
import sqlite3, os, sys
data, n = sys.argv[1], int(sys.argv[2])
seg_dir = os.path.join(data, "blobs", "segments")
os.makedirs(seg_dir, exist_ok=True)
db = sqlite3.connect(os.path.join(data, "index.db"))
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=OFF")
db.execute("INSERT INTO patients (patient_id, patient_name) VALUES ('SYN', 'SYNTHETIC^ARCHIVE')")
db.execute("INSERT INTO studies (patient_pk, study_uid, series_count, instance_count) VALUES (1, '1.2.3.999', 0, 0)")
record = 131072; per_segment = (1 << 30) // record
meta = os.urandom(1400).hex().encode()[:2750]
rows = []
for i in range(n):
    if i % 1000 == 0:
        db.execute("INSERT INTO series (study_pk, series_uid, instance_count) VALUES (1, ?, 1000)", (f"1.2.3.999.{i // 1000}",))
        series_pk = i // 1000 + 1
    seg, slot = i // per_segment + 1, i % per_segment
    rows.append((series_pk, f"1.2.3.999.{i // 1000}.{i % 1000}", "1.2.840.10008.5.1.4.1.1.2", i % 1000, "1.2.840.10008.1.2.1",
                 f"s/{seg:08x}/{slot * record:x}/{record - 16:x}", record - 16, meta))
    if len(rows) == 10000:
        db.executemany("INSERT INTO instances (series_pk, sop_uid, sop_class_uid, instance_number, transfer_syntax_uid, blob_key, length, metadata) VALUES (?,?,?,?,?,?,?,?)", rows)
        rows = []
if rows:
    db.executemany("INSERT INTO instances (series_pk, sop_uid, sop_class_uid, instance_number, transfer_syntax_uid, blob_key, length, metadata) VALUES (?,?,?,?,?,?,?,?)", rows)
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
segments = (n + per_segment - 1) // per_segment
for s in range(1, segments + 1):
    count = per_segment if s < segments else n - (segments - 1) * per_segment
    with open(os.path.join(seg_dir, f"{s:08x}.seg"), "wb") as f:
        f.truncate(count * record)
print(f"{n} instances in {segments} segments")
