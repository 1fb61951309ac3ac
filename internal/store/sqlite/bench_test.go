package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/store/sqlite"
)

// benchRecord returns a realistic result record: a ~300-byte envelope as
// data and, as for every plain record, the same bytes as its leaf.
func benchRecord(i int64, at time.Time) store.Record {
	data := fmt.Appendf(nil, `{"kind":"result","v":1,"by":"cli","record":{"checkpoint":"atlas-c%d","evaluation":"wmdp-bio","score":0.%04d,"elicitation":"finetuned","samples":1273,"at":%q,"source":{"format":"inspect","task":"inspect_evals/wmdp_bio","log":"logs/2026-01-12T00-00-00_wmdp-bio_%08d.eval"}}}`,
		i/100, i%10000, at.Format(time.RFC3339Nano), i)
	return store.Record{Kind: store.KindResult, Model: "atlas", At: at, Data: data, Leaf: data}
}

// BenchmarkAppendBatched appends batches of 1,000 records, each batch in
// one write transaction, to a growing embedded store and reports
// records/s (the target is at least 5,000).
func BenchmarkAppendBatched(b *testing.B) {
	const batch = 1000
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)
	var next int64
	recs := make([]store.Record, batch)
	var bytesPerRecord int
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for i := range recs {
			recs[i] = benchRecord(next+int64(i), at.Add(time.Duration(next+int64(i))*time.Second))
		}
		bytesPerRecord = len(recs[0].Data)
		b.StartTimer()
		err := db.Update(ctx, func(tx store.Tx) error {
			first, err := tx.Append(ctx, recs)
			if err == nil && first != next {
				err = fmt.Errorf("Append returned first index %d, want %d", first, next)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		next += batch
	}
	b.StopTimer()
	b.ReportMetric(float64(next)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytesPerRecord), "B/record")

	// Not vacuous: every record and stored hash is there, and the tree
	// over the stored hashes is the tree over the appended leaves.
	err = db.View(ctx, func(r store.Reader) error {
		n, err := r.Size(ctx)
		if err != nil {
			return err
		}
		if n != next {
			return fmt.Errorf("Size() = %d, want %d", n, next)
		}
		last, err := r.Entry(ctx, n-1)
		if err != nil {
			return err
		}
		want := benchRecord(n-1, at.Add(time.Duration(n-1)*time.Second))
		if string(last.Leaf) != string(want.Leaf) || string(last.Data) != string(want.Data) {
			return fmt.Errorf("last record %s, want %s", last.Leaf, want.Leaf)
		}
		hs, err := r.ReadHashes(ctx, []int64{tlog.StoredHashIndex(0, n-1)})
		if err != nil {
			return err
		}
		if hs[0] != tlog.RecordHash(last.Leaf) {
			return fmt.Errorf("stored leaf hash of %d is wrong", n-1)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
