package asynclog

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/asynclog/asynclog/internal/spool"
)

// ErrSpoolInUse is wrapped by the error NewQueue returns when Options.Spool
// names a directory that a live queue, in this process or another, holds.
// The hold ends with its owner, however the owner ends.
var ErrSpoolInUse = errors.New("asynclog: spool in use by another queue")

// defaultSpoolBytes is Options.SpoolBytes' default; minSpoolBytes its
// least value, one page (the ring's unit).
const (
	defaultSpoolBytes = 64 << 20
	minSpoolBytes     = 4096
)

// spoolStore keeps the queue's records in a spool: a ring in a file
// mapping (internal/spool), so that a record is in the kernel's page cache
// once the log call returns and outlives the process. A batch is read
// (copied out) by the consumer and released only once it is settled, so a
// process that dies mid-Write delivers that batch again on the next start.
type spoolStore struct {
	s     *spool.Spool
	batch int            // most records a take reads: Options.BatchSize
	limit int            // about the most bytes a take reads
	kept  int            // records in the sink's hands when Shutdown gave up: still stored
	reads []spool.Record // the batch read, reused: Encoded is a view of the mapping (valid until release) or a copy in spare
	spare [][]byte       // for each of reads, the array a record copied out of the mapping is in: one that wraps around the ring's end
	taken []uint64       // the places of the records take claimed, for read
	seg   segment        // the batch read, as the consumer takes it
	// The room ahead of the tail, as take saw it, for warm to pre-fault,
	// and the logical offset warm has pre-faulted up to: offsets only
	// grow, so a page is pre-faulted once a lap, not once a batch.
	aheadFrom, aheadTo, faulted uint64
}

var _ store = (*spoolStore)(nil)

// openSpool opens Options.Spool as the queue's store: the records an
// earlier process left are queued first, then its crash report (if it
// left one, whatever this queue's CrashReport says), then the new ones.
// startErrs are what the consumer reports as it starts (damage, a crash
// report with no room).
func (q *queue) openSpool() (startErrs []error, err error) {
	dir := q.opts.Spool
	s, err := spool.Open(dir, q.opts.SpoolBytes)
	if err != nil {
		if errors.Is(err, spool.ErrInUse) {
			return nil, fmt.Errorf("%w: %s: %w", ErrSpoolInUse, dir, err)
		}
		return nil, fmt.Errorf("asynclog: open spool %s: %w", dir, err)
	}
	p := &spoolStore{s: s, batch: q.opts.BatchSize, limit: min(q.opts.MaxBytes, maxKeptBatchBuf)}
	p.seg.recs, p.seg.meta = make([]Record, p.batch), make([]recMeta, p.batch)
	q.store = p
	// The ring is SpoolBytes rounded up to a page, or an existing spool's
	// own size: Options reports the size in use.
	q.opts.SpoolBytes = s.Cap()
	if last, ok := s.LastSeq(); ok {
		q.seq = last + 1
	}
	if first, ok := s.NextSeq(); ok {
		q.settled = first
	} else {
		q.settled = q.seq
	}
	n := uint64(s.Unread())
	q.enqueued += n
	q.stats.Replayed = n
	if d := s.Damage(); d != (spool.Damage{}) {
		q.stats.Damaged = uint64(max(d.Regions, 1))
		startErrs = append(startErrs, fmt.Errorf("asynclog: spool %s: %w", dir, d.Err()))
	}
	if c, ok := s.CrashReport(); ok {
		// Delivered whatever this queue's CrashReport says: the run that
		// crashed asked for it. It goes in only where there is room, cut
		// to fit: it never evicts a record.
		if rec, ok := crashRecord(c, s.Room()); ok {
			q.enqueued++
			p.push(q.seq, rec, false).write(&rec)
			q.seq++
			if err := s.RemoveCrashReport(); err != nil {
				startErrs = append(startErrs, fmt.Errorf("asynclog: spool %s: %w", dir, err))
			}
		} else {
			startErrs = append(startErrs, fmt.Errorf("asynclog: spool %s: no room for the previous run's crash report (%d bytes): kept in the directory for the next start", dir, len(c.Text)))
		}
	}
	if q.opts.CrashReport {
		if err := s.ArmCrashOutput(); err != nil {
			_ = s.Close(true)
			return nil, fmt.Errorf("asynclog: spool %s: crash output: %w", dir, err)
		}
	}
	return startErrs, nil
}

// crashMessage is the message of the record that delivers a crash report.
const crashMessage = "asynclog: the previous run crashed"

// crashRecord is the record that delivers an earlier run's crash report,
// at most room bytes in the spool (see spool.RecordSize): a longer report
// is cut, at its end, and the record says so ("crash_truncated", and the
// report's full size in "crash_bytes"). It returns false if not even the
// record's fixed part fits.
func crashRecord(c spool.Crash, room int64) (Record, bool) {
	now := time.Now()
	cause := crashCause(c.Text)
	text := c.Text
	for {
		b := make([]byte, 0, len(text)+len(cause)+256)
		b = append(b, `{"time":"`...)
		b = now.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"ERROR","msg":`...)
		b = appendJSONString(b, crashMessage)
		b = append(b, `,"crashed_at":"`...)
		b = c.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","crash_cause":`...)
		b = appendJSONString(b, cause)
		if len(text) < len(c.Text) {
			b = append(b, `,"crash_truncated":true,"crash_bytes":`...)
			b = strconv.AppendInt(b, int64(len(c.Text)), 10)
		}
		b = append(b, `,"crash":`...)
		b = appendJSONString(b, text)
		b = append(b, '}')
		over := spool.RecordSize(len(crashMessage), len(b)) - room
		if over <= 0 {
			return Record{Time: now, Level: slog.LevelError, Message: crashMessage, Encoded: b}, true
		}
		if text == "" {
			return Record{}, false
		}
		// Each byte cut shortens the encoding by one byte or more.
		n := max(len(text)-int(over), 0)
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n]
	}
}

// crashCause names what ended the run, from the report's first line:
// "panic: ..." or "fatal error: ...". For a fatal error that is not a
// panic the runtime writes that line to standard error only, and the
// report starts with the goroutine stacks: the cause is then the first
// goroutine's header and its first frame outside the runtime.
func crashCause(text string) string {
	lines := strings.Split(strings.TrimLeft(text, "\n"), "\n")
	if strings.HasPrefix(lines[0], "panic: ") || strings.HasPrefix(lines[0], "fatal error: ") {
		return lines[0]
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, "goroutine ") {
			continue
		}
		g := strings.TrimSuffix(l, ":")
		for _, f := range lines[i+1:] {
			if f == "" {
				break
			}
			if f[0] == '\t' || strings.HasPrefix(f, "runtime.") || strings.HasPrefix(f, "internal/runtime/") {
				continue
			}
			if k := strings.LastIndexByte(f, '('); k > 0 {
				f = f[:k]
			}
			return "fatal error (its message went to standard error only) in " + g + ", at " + f
		}
		return "fatal error (its message went to standard error only) in " + g
	}
	return "unknown: the report names no panic, fatal error or goroutine"
}

func (p *spoolStore) queued() int { return p.s.Unread() + p.kept }

func (p *spoolStore) size(rec Record) int64 {
	return spool.RecordSize(len(rec.Message), len(rec.Encoded))
}

func (p *spoolStore) fits(rec Record) bool  { return p.s.Fits(len(rec.Message), len(rec.Encoded)) }
func (p *spoolStore) never(rec Record) bool { return p.size(rec) > p.s.Cap() }

func (p *spoolStore) ready() bool    { return p.s.Unread() >= p.batch || p.pressing() }
func (p *spoolStore) pressing() bool { return 2*p.s.Used() >= p.s.Cap() }

// push reserves the record's place in the spool and writes its fixed part;
// the log call copies its bytes in, and its checksum, after it unlocks
// (pending.write commits the slot).
func (p *spoolStore) push(seq uint64, rec Record, _ bool) pending {
	// A record from the io.Writer front end has no Message: the consumer
	// finds it in the encoding after reading, as it does in memory.
	sl, ok := p.s.Reserve(seq, int32(rec.Level), rec.Time.UnixNano(), len(rec.Message), len(rec.Encoded))
	if !ok {
		return pending{} // the queue called fits first: it has room
	}
	pos, word := sl.Place()
	return pending{sp: p.s, i: pos, off: word}
}

func (p *spoolStore) evictBelow(keep slog.Level) (slog.Level, bool) {
	m, ok := p.s.Evict(int32(keep))
	return slog.Level(m.Level), ok
}

func (p *spoolStore) oldestSeq() (uint64, bool) { return p.s.NextSeq() }

// warm makes the room the next log calls will write present and writable
// in the mapping, so that they do not take the write-protect fault a file
// system with write-back makes the first store into a page take. It skips
// what it made so before: the kernel walks every page it is asked for,
// present or not, and the window ahead is a few batches long. (A page the
// kernel writes back between its pre-fault and the log call that reaches
// it, in its periodic write-back, is write-protected again and not
// pre-faulted again before the next lap: that call takes the fault, as
// without warm. At most the window's 64 pages a write-back pass.)
func (p *spoolStore) warm() {
	from := max(p.aheadFrom, p.faulted)
	if from >= p.aheadTo {
		return
	}
	p.s.Prefault(from, p.aheadTo)
	p.faulted = p.aheadTo
}

// take claims the oldest records, at most a batch, under the lock; read
// reads them outside it. They stay in the spool until
// release.
func (p *spoolStore) take() *segment {
	p.aheadFrom, p.aheadTo = p.s.Ahead()
	p.taken = p.s.Claim(p.taken[:0], p.batch, p.limit)
	g := &p.seg
	g.n, g.live, g.first, g.dead, g.liveBytes = len(p.taken), len(p.taken), 0, 0, 0
	if g.n == 0 {
		return nil
	}
	return g
}

// read reads the records take claimed into the batch segment, each once
// its log call has committed it: its encoding is a view of the mapping,
// valid until release, which comes after the sink's Write, Fallback and
// retries, none of which may keep it (see Sink). It marks none done
// (meta.done): only the consumer reads this segment, after read returns.
func (p *spoolStore) read(g *segment) {
	if g != &p.seg {
		return
	}
	for i, pos := range p.taken {
		if i == len(p.reads) {
			p.reads = append(p.reads, spool.Record{})
			p.spare = append(p.spare, nil)
		}
		r := &p.reads[i]
		p.spare[i] = p.s.ViewAt(pos, r, p.spare[i])
		g.recs[i] = Record{Time: time.Unix(0, r.Time), Level: slog.Level(r.Level), Message: r.Message, Encoded: r.Encoded}
		mt := &g.meta[i]
		mt.set(r.Seq, slog.Level(r.Level), r.Encoded, r.Message == "")
		g.liveBytes += len(r.Encoded)
	}
}

func (p *spoolStore) release(n int, _ *segment) {
	_ = p.s.Release(n) // n is what take read: it cannot be more
}

func (p *spoolStore) abandon(inflight int) (lost, kept int) {
	p.kept += inflight
	return 0, p.queued()
}

// closeStore closes the spool, on the consumer's way out.
func (q *queue) closeStore() {
	if p, ok := q.store.(*spoolStore); ok {
		if err := p.s.Close(true); err != nil {
			q.report(fmt.Errorf("asynclog: close spool: %w", err))
		}
	}
}
