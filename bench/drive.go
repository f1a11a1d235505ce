package main

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// load says how a run drives a subject.
type load struct {
	producers int           // goroutines logging at once
	records   int           // records per producer
	rate      float64       // records per second per producer; 0: as fast as possible
	samples   bool          // time each call
	budget    time.Duration // stop logging after this long; 0: no limit
	stuck     time.Duration // a call running longer than this is reported blocked; 0: no watchdog
}

// runResult is what one run measured.
type runResult struct {
	logged   int64           // calls that returned
	elapsed  time.Duration   // from the first call to the last return (or to the watchdog)
	lat      []time.Duration // per-call latency, if sampled
	capped   bool            // budget ran out before every record was logged
	blocked  bool            // a call never returned within load.stuck
	mallocs  uint64          // heap allocations in the process during the run
	maxLat   time.Duration   // longest call that returned (with samples or the watchdog)
	slow     int64           // calls that took 1 ms or more (likewise)
	finished chan struct{}   // closed once every producer has returned
	ps       []*producer
}

// producer is one logging goroutine's state, read by the watchdog.
type producer struct {
	inCall atomic.Int64 // start of the call in progress (UnixNano), 0 between calls
	done   atomic.Int64 // calls that returned
	lat    []time.Duration
	capped bool
	maxLat time.Duration
	slow   int64
}

// drive logs through log under ld and measures. If the watchdog finds a
// call stuck it returns at once, with blocked set; the stuck producers keep
// their goroutines until the sink is released, and then stop: wait on
// finished before closing the subject.
func drive(log func(), ld load) *runResult {
	res := &runResult{finished: make(chan struct{})}
	ps := make([]*producer, ld.producers)
	var abort atomic.Bool
	var wg sync.WaitGroup
	start := make(chan struct{})
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	t0 := time.Now()
	for k := range ps {
		p := &producer{}
		if ld.samples {
			p.lat = make([]time.Duration, 0, ld.records)
		}
		ps[k] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p.run(log, ld, t0, &abort)
		}()
	}
	go func() {
		wg.Wait()
		close(res.finished)
	}()
	close(start)

	var tick <-chan time.Time
	if ld.stuck > 0 {
		tk := time.NewTicker(ld.stuck / 20)
		defer tk.Stop()
		tick = tk.C
	}
wait:
	for {
		select {
		case <-res.finished:
			break wait
		case <-tick:
			now := time.Now().UnixNano()
			for _, p := range ps {
				if s := p.inCall.Load(); s != 0 && time.Duration(now-s) > ld.stuck {
					res.blocked = true
				}
			}
			if res.blocked {
				abort.Store(true)
				break wait
			}
		}
	}
	res.elapsed = time.Since(t0)
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	res.mallocs = ms1.Mallocs - ms0.Mallocs
	for _, p := range ps {
		res.logged += p.done.Load()
	}
	res.ps = ps
	if !res.blocked {
		res.settle()
	}
	return res
}

// settle gathers the producers' samples. It must only run once finished is
// closed: drive calls it unless a call was stuck, in which case the caller
// does, after releasing the sink.
func (res *runResult) settle() {
	<-res.finished
	res.lat, res.maxLat, res.slow = res.lat[:0], 0, 0
	for _, p := range res.ps {
		res.lat = append(res.lat, p.lat...)
		res.capped = res.capped || p.capped
		res.maxLat = max(res.maxLat, p.maxLat)
		res.slow += p.slow
	}
}

func (p *producer) run(log func(), ld load, t0 time.Time, abort *atomic.Bool) {
	var interval time.Duration
	if ld.rate > 0 {
		interval = time.Duration(float64(time.Second) / ld.rate)
	}
	watch := ld.stuck > 0
	plain := int64(0) // calls counted without the watchdog's atomic
	defer func() { p.done.Add(plain) }()
	for i := 0; i < ld.records; i++ {
		if abort.Load() {
			return
		}
		if ld.budget > 0 && i&63 == 0 && time.Since(t0) > ld.budget {
			p.capped = true
			return
		}
		if interval > 0 {
			// A steady rate: wait for this record's slot; a caller that
			// fell behind logs at once, as a server under load would.
			next := t0.Add(time.Duration(i) * interval)
			for time.Now().Before(next) {
				runtime.Gosched()
			}
		}
		if !ld.samples && !watch {
			log()
			plain++
			continue
		}
		s := time.Now()
		if watch {
			p.inCall.Store(s.UnixNano())
		}
		log()
		d := time.Since(s)
		if watch {
			p.inCall.Store(0)
		}
		if ld.samples {
			p.lat = append(p.lat, d)
		}
		p.maxLat = max(p.maxLat, d)
		if d >= time.Millisecond {
			p.slow++
		}
		p.done.Add(1)
	}
}

// closeResult is how a subject's close went.
type closeResult struct {
	took    time.Duration
	err     error
	timeout bool // close had not returned within its limit
}

// closeWithin calls in.close, waiting at most limit for it.
func closeWithin(in *instance, limit time.Duration) closeResult {
	if in.close == nil {
		return closeResult{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- in.close(ctx) }()
	select {
	case err := <-done:
		return closeResult{took: time.Since(t0), err: err}
	case <-time.After(limit):
		return closeResult{took: time.Since(t0), timeout: true}
	}
}
