package ga4

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sourcegraph/conc/pool"
	"github.com/zeebo/xxh3"

	"closedloop/extract"
)

// decoded is one file decoded on its own, waiting for its turn.
type decoded struct {
	buf  relay
	d    *Decoder // its seen rows, origins and counts
	err  error
	done chan struct{}
}

// relay is the Writer a file's Decoder writes to: a Buffer until the file's turn comes;
// then, for a file whose rows cannot repeat an earlier file's (the first of its day),
// what was buffered is passed on and the rest goes straight through, so that the file
// being passed on is never held whole.
type relay struct {
	mu  sync.Mutex
	buf extract.Buffer
	w   extract.Writer // set once direct
}

func (r *relay) Write(ctx context.Context, table string, rec arrow.RecordBatch) error {
	r.mu.Lock()
	w := r.w
	if w == nil {
		defer r.mu.Unlock()
		return r.buf.Write(ctx, table, rec)
	}
	r.mu.Unlock()
	return w.Write(ctx, table, rec)
}

func (r *relay) Reject(ctx context.Context, rj extract.Rejection) error {
	r.mu.Lock()
	w := r.w
	if w == nil {
		defer r.mu.Unlock()
		return r.buf.Reject(ctx, rj)
	}
	r.mu.Unlock()
	return w.Reject(ctx, rj)
}

// direct passes on what was buffered and sends the rest straight to w.
func (r *relay) direct(ctx context.Context, w extract.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w = w
	return r.buf.Drain(ctx, w)
}

// Drain passes on everything buffered (a file whose turn came once decoded).
func (r *relay) Drain(ctx context.Context, w extract.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Drain(ctx, w)
}

// Release drops what is buffered.
func (r *relay) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf.Release()
}

// readAll decodes the files on every core and writes them to w in the order given,
// exactly as one Decoder reading them one after the other would: the same rows in the
// same order, the same rejections, exact duplicates dropped across the files of one
// day (fileDay: a day's shards, its NDJSON and Parquet copies; files without a day in
// their names count as one day). Each
// file is decoded by a Decoder of its own into a buffer; in file order, a buffer whose
// rows repeat none of the earlier files' is passed on and its rows join the seen set,
// while a file that does repeat an earlier row (rare: the same day exported twice) is
// decoded again against the whole seen set, so the first copy in file order is kept.
// The first file of a day repeats no earlier file's rows (the seen set is the day's):
// once its turn comes it is passed on as it is decoded (relay). At most a few files
// beyond the one being passed on are held decoded.
func readAll(ctx context.Context, spec string, mem memory.Allocator, now time.Time, paths []string, w extract.Writer) (Stats, error) {
	workers := runtime.GOMAXPROCS(0)
	ahead := workers // decoded files held at most
	results := make([]*decoded, len(paths))
	for i := range results {
		results[i] = &decoded{done: make(chan struct{})}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan struct{}, ahead)
	p := pool.New().WithMaxGoroutines(workers)
	go func() {
		for i, path := range paths {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				for _, r := range results[i:] {
					r.err = ctx.Err()
					close(r.done)
				}
				return
			}
			p.Go(func() {
				r := results[i]
				defer close(r.done)
				d := NewDecoder(spec, mem, &r.buf)
				d.Now = now
				if r.err = readFile(ctx, path, mem, d); r.err == nil {
					r.err = d.Flush(ctx)
				}
				d.Release() // the builder; the seen rows, origins and counts stay for adopt
				r.d = d
			})
		}
	}()
	defer p.Wait()

	global := NewDecoder(spec, mem, w) // the seen set of the day's files passed on, the counts of all
	global.Now = now
	defer global.Release()
	fail := func(i int, err error) (Stats, error) {
		results[i].buf.Release()
		cancel()
		for _, rest := range results[i+1:] { // wait for the others to stop, then free
			<-rest.done
			rest.buf.Release()
		}
		return global.Stats(), err
	}
	for i, r := range results {
		first := i == 0 || fileDay(paths[i]) != fileDay(paths[i-1])
		if first {
			// Another day: rows of the days passed on cannot come again (a row's day
			// is its table's), so their seen set goes, and memory grows with a day's
			// rows, not the export's. Nothing the file holds can repeat them: it goes
			// through as it is decoded.
			global.seen = map[xxh3.Uint128]uint64{}
			if err := r.buf.direct(ctx, w); err != nil {
				<-r.done
				<-slots
				return fail(i, err)
			}
		}
		<-r.done
		<-slots
		err := r.err
		switch {
		case err != nil:
		case first:
			global.adopt(r.d)
		case repeats(r.d.seen, global.seen):
			r.buf.Release()
			if err = readFile(ctx, paths[i], mem, global); err == nil {
				err = global.Flush(ctx)
			}
		default:
			global.adopt(r.d)
			err = r.buf.Drain(ctx, w)
		}
		r.d = nil
		if err != nil {
			return fail(i, err)
		}
	}
	return global.Stats(), nil
}

// readFile reads one file, NDJSON or Parquet, into d. An empty file is an error.
func readFile(ctx context.Context, path string, mem memory.Allocator, d *Decoder) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		return fmt.Errorf("ga4: %s: empty file (0 bytes); an export file holds a day's rows: export the day again, or remove the file", path)
	}
	pq, err := isParquet(path)
	if err != nil {
		return err
	}
	if pq {
		return readParquet(ctx, path, mem, d)
	}
	return readNDJSON(ctx, path, d)
}

// repeats reports whether a row of seen is in earlier.
func repeats(seen, earlier map[xxh3.Uint128]uint64) bool {
	if len(earlier) < len(seen) {
		seen, earlier = earlier, seen
	}
	for h := range seen {
		if _, ok := earlier[h]; ok {
			return true
		}
	}
	return false
}

// adopt adds the rows other has seen, their origins and its counts to d's.
func (d *Decoder) adopt(other *Decoder) {
	d.stats.Events += other.stats.Events
	d.stats.Rejected += other.stats.Rejected
	d.stats.Duplicates += other.stats.Duplicates
	base := uint64(len(d.origins))
	d.origins = append(d.origins, other.origins...)
	for h, at := range other.seen {
		d.seen[h] = at + base<<originShift
	}
}

// dayInName finds a YYYYMMDD day in a file name (events_20260105, its shards
// events_20260105_000000000001, events_intraday_20260105).
var dayInName = regexp.MustCompile(`(?:^|[^0-9])((?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))(?:[^0-9]|$)`)

// fileDay is the day a GA4 export file's name carries, "" for none: a row's day is
// its table's, so rows of two days' files never repeat one another.
func fileDay(path string) string {
	m := dayInName.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return ""
	}
	return m[1]
}
