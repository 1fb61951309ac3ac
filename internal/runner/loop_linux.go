//go:build linux

package runner

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The event loop runs a plain-http run with a local scorer on one
// goroutine: it owns one connection per concurrent request, polled with an
// epoll instance of its own, and for each response it parses, scores and
// records the outcome and writes the next request, handing nothing to
// another goroutine. Compared with a goroutine per request (runWorkers,
// Run's portable way), that saves the scheduler's work for every request
// (parking, netpoller wake-ups, handing goroutines between threads), which
// costs as much CPU as the rest of the runner when the server answers at
// once. The loop's epoll descriptor is registered in the runtime's poller,
// with which the loop waits when it has nothing to do, so that it never
// blocks a thread; its other system calls (on non-blocking sockets, the
// epoll instance, a timerfd and, on a local file system, the state file)
// cannot block, and are made raw (see rawRead).
//
// The loop makes only the requests whose connection is ready. A slot's
// first request, or one after its connection was lost, is made by a
// goroutine with the client's pool (which dials), and so are the retries of
// a failed attempt (with their backoff, Retry-After and Sleep), the
// connection going with them when it can be reused: the goroutine hands
// back the completion or the error, and the loop takes the connection it
// left in the pool. Outcome lines are written to the state file within
// BatchInterval, and the state's writer goroutine is asked to fsync them
// at most every SyncInterval.

// loop is a run's event loop.
type loop struct {
	r       *runState
	c       *Client
	t       *h1Transport
	pending []int
	partial map[int]*Outcome
	next    int // the next index into pending

	ep    int                  // the epoll instance
	epf   *os.File             // ep, in the runtime's poller
	eprc  syscall.RawConn      // epf's, to wait with the poller
	wake  [2]int               // a pipe whose reading end is in ep: goroutines wake the loop
	timer int                  // a timerfd in ep, armed when the loop waits with something due
	evs   []syscall.EpollEvent // events of the last poll

	slots []*slot
	busy  int // slots with an item

	mu     sync.Mutex
	back   []handBack // items finished by goroutines
	closed bool       // the pipe is closed
	// woken is set while the pipe has an unread wake-up.
	woken     atomic.Bool
	abandoned atomic.Bool

	lines   []byte    // outcome lines not yet written
	linesAt time.Time // when the first of them was made
	// syncAt is when to ask for the fsync of the lines written (zero: none
	// owed), SyncInterval after the previous request, made at lastSync.
	syncAt, lastSync time.Time
	// checkAt is no later than the earliest deadline of the requests in
	// flight (zero: none).
	checkAt time.Time
	// timerAt is when the timer is armed for (zero: disarmed). The
	// runtime's timers (a deadline on epf) would do, but moving them a
	// thousand times a second costs more than the loop.
	timerAt time.Time
}

// slot is one of the run's concurrent requests.
type slot struct {
	id   int
	fd   int   // the connection, -1 when none
	gen  int32 // counts the slot's connections: their events carry it
	item int   // the item, -1 when none
	away bool  // a goroutine has the item
	// writing is set while the socket cannot take the rest of the
	// request: the loop then waits for it to be writable.
	writing  bool
	t0       time.Time // when the item started
	deadline time.Time // when the attempt times out
	body     []byte    // the request body
	req      []byte    // the request
	wrote    int       // bytes of req written
	rb       []byte    // bytes of the response read
	eof      bool      // the connection has ended
	need     int       // the length rb must reach before a parse can get further
}

// handBack is an item a goroutine finished: its completion, received at
// at, or the error it failed with.
type handBack struct {
	s    *slot
	comp *Completion
	err  error
	at   time.Time
}

// Tags of the events of the pipe and the timer (a slot's are its index).
const (
	wakeTag  = -1
	timerTag = -2
)

// spinFor is how long the loop polls for events before it waits with the
// runtime's poller: a response that comes within it (most do, when the
// server is quick) is taken without the loop's thread going to sleep and
// being woken, which takes longer, above all when other processes compete
// for the CPUs, than the polling costs. (Against a server that answers at
// once, the polling costs about 1 µs of CPU time per sample, and raises
// the throughput by about a tenth.)
const spinFor = 20 * time.Microsecond

// runLoop runs the pending items with an event loop, when the run can use
// one: a plain-http endpoint (the client's lean HTTP/1.1 transport) and a
// local scorer. It reports false, having done nothing, when not.
func runLoop(r *runState, pending []int, partial map[int]*Outcome, conc int) bool {
	c := r.cfg.Client
	if c.h1 == nil || r.cfg.Scorer.Remote() {
		return false
	}
	l := &loop{r: r, c: c, t: c.h1, pending: pending, partial: partial, ep: -1, wake: [2]int{-1, -1}, timer: -1}
	defer l.closeFDs()
	if l.open() != nil {
		return false
	}
	if c.Abandon != nil {
		c.hookAbandon.Do(func() { context.AfterFunc(c.Abandon, c.h1.abandon) })
		stop := context.AfterFunc(c.Abandon, func() {
			l.abandoned.Store(true)
			l.wakeUp()
		})
		defer stop()
	}
	stop := context.AfterFunc(r.ctx, l.wakeUp)
	defer stop()
	l.slots = make([]*slot, min(conc, len(pending)))
	for i := range l.slots {
		l.slots[i] = &slot{id: i, fd: -1, item: -1}
	}
	l.evs = make([]syscall.EpollEvent, len(l.slots)+2)
	l.run()
	return true
}

// open makes the epoll instance, the wake-up pipe and the timer.
func (l *loop) open() error {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	l.ep = ep
	if err := syscall.SetNonblock(ep, true); err != nil {
		return err
	}
	// A non-blocking descriptor is registered in the runtime's poller.
	l.epf = os.NewFile(uintptr(ep), "epoll")
	if err := l.epf.SetReadDeadline(time.Time{}); err != nil {
		return err // not in the poller: the loop could not wait
	}
	if l.eprc, err = l.epf.SyscallConn(); err != nil {
		return err
	}
	if err := syscall.Pipe2(l.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		return err
	}
	if err := l.watchFD(l.wake[0], wakeTag); err != nil {
		return err
	}
	const clockMonotonic = 1
	fd, _, errno := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return errno
	}
	l.timer = int(fd)
	return l.watchFD(l.timer, timerTag)
}

func (l *loop) watchFD(fd int, tag int32) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: tag}
	return syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &ev)
}

func (l *loop) closeFDs() {
	for _, s := range l.slots {
		l.closeConn(s)
	}
	l.mu.Lock()
	l.closed = true
	for _, fd := range l.wake {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
	l.mu.Unlock()
	if l.timer >= 0 {
		syscall.Close(l.timer)
	}
	switch {
	case l.epf != nil:
		l.epf.Close()
	case l.ep >= 0:
		syscall.Close(l.ep)
	}
}

func (l *loop) run() {
	for _, s := range l.slots {
		l.busy++
		l.dispatch(s)
	}
	for l.busy > 0 {
		for _, ev := range l.evs[:l.waitEvents()] {
			switch ev.Fd {
			case wakeTag:
				l.takeBack()
				continue
			case timerTag:
				var b [8]byte
				rawRead(l.timer, b[:])
				l.timerAt = time.Time{}
				continue
			}
			s := l.slots[ev.Fd]
			switch {
			case s.fd < 0 || ev.Pad != s.gen:
				// An event of a connection since closed.
			case s.item < 0 || s.away:
				// An idle connection has news: the server closed it, or
				// sent what nobody asked for.
				l.closeConn(s)
			default:
				if s.writing {
					l.write(s)
				}
				// An answer may come before the whole request was taken.
				if s.fd >= 0 && !s.away && ev.Events&(syscall.EPOLLIN|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
					l.read(s)
				}
			}
		}
		now := time.Now()
		if len(l.lines) > 0 && now.Sub(l.linesAt) >= BatchInterval {
			l.flush(now)
		}
		if !l.syncAt.IsZero() && !now.Before(l.syncAt) {
			l.r.cfg.State.syncSoon()
			l.syncAt, l.lastSync = time.Time{}, now
		}
		if !l.checkAt.IsZero() && !now.Before(l.checkAt) {
			l.expire(now)
		}
	}
	l.flush(time.Now())
	if st := l.r.cfg.State; st != nil {
		if !l.syncAt.IsZero() {
			st.syncSoon()
		}
		if err := st.Err(); err != nil {
			l.r.mu.Lock()
			if l.r.stateErr == nil {
				l.r.stateErr = err
			}
			l.r.mu.Unlock()
		}
	}
}

// waitEvents waits for events, or until something is due (the earliest
// deadline, the writing of the outcome lines, their fsync), and returns
// the number of events in l.evs.
func (l *loop) waitEvents() int {
	if n := l.poll(); n > 0 {
		return n
	}
	for end := time.Now().Add(spinFor); ; {
		for range 8 {
			if n := l.poll(); n > 0 {
				return n
			}
		}
		if time.Now().After(end) {
			break
		}
	}
	due := l.checkAt
	if len(l.lines) > 0 {
		due = earliest(due, l.linesAt.Add(BatchInterval))
	}
	due = earliest(due, l.syncAt)
	if !due.Equal(l.timerAt) {
		l.setTimer(due)
	}
	// Events that come between the last poll and the runtime's poller
	// watching epf are found by the poll in the callback, which runs once
	// the poller watches.
	var n int
	l.eprc.Read(func(uintptr) bool {
		n = l.poll()
		return n > 0
	})
	return n
}

// poll returns the number of events ready, without waiting.
func (l *loop) poll() int {
	for {
		n, err := epollPoll(l.ep, l.evs)
		if err != syscall.EINTR {
			return n // 0 on an error, which a valid instance cannot have
		}
	}
}

// earliest is the earlier of two times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// setTimer arms the timer for at, or disarms it (at zero).
func (l *loop) setTimer(at time.Time) {
	var spec struct{ interval, value syscall.Timespec } // struct itimerspec
	if !at.IsZero() {
		spec.value = syscall.NsecToTimespec(max(int64(time.Until(at)), 1))
	}
	syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, uintptr(l.timer), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	l.timerAt = at
}

// wakeUp makes the loop look at what goroutines handed back, and at its
// context and the client's Abandon.
func (l *loop) wakeUp() {
	if l.woken.CompareAndSwap(false, true) {
		l.mu.Lock()
		if !l.closed {
			syscall.Write(l.wake[1], []byte{1})
		}
		l.mu.Unlock()
	}
}

// takeBack takes the items goroutines finished, and acts on Abandon.
func (l *loop) takeBack() {
	// Drained before the flag is cleared: a wake-up asked for after the
	// clearing leaves its byte in the pipe.
	var b [64]byte
	for {
		if n, err := rawRead(l.wake[0], b[:]); n <= 0 || err != nil {
			break
		}
	}
	l.woken.Store(false)
	if l.abandoned.Load() {
		// Cut the requests in flight (a response read in full stood).
		for _, s := range l.slots {
			if s.item >= 0 && !s.away {
				l.closeConn(s)
				l.end(s, nil, errAbandoned, time.Time{})
			}
		}
	}
	l.mu.Lock()
	back := l.back
	l.back = nil
	l.mu.Unlock()
	for _, hb := range back {
		hb.s.away = false
		l.end(hb.s, hb.comp, hb.err, hb.at)
	}
}

// dispatch starts the slot's next item, or makes it idle.
func (l *loop) dispatch(s *slot) {
	for {
		if l.next >= len(l.pending) || !l.r.dispatching() {
			s.item = -1
			l.busy--
			return
		}
		i := l.pending[l.next]
		l.next++
		prev := l.partial[i]
		if prev == nil {
			l.start(s, i)
			return
		}
		// Generated before and left unscored: only scored, as runOne does.
		o := *prev
		sc, err := l.r.cfg.Scorer.Score(l.r.ctx, l.r.items[i].Sample, o.Output)
		if err == nil {
			o.Score = &sc
			err = l.record(&o)
		}
		if err != nil {
			l.r.finish(i, nil, err)
		} else {
			l.r.finish(i, &o, nil)
		}
	}
}

// start makes the first attempt of item i.
func (l *loop) start(s *slot, i int) {
	c := l.c
	s.item = i
	s.t0 = l.r.now()
	s.body = append(s.body[:0], c.prefix...)
	s.body = appendMessages(s.body, l.r.items[i].Messages)
	s.body = append(s.body, c.suffix...)
	if l.abandoned.Load() || s.fd < 0 && !l.adopt(s) {
		l.handOff(s, nil)
		return
	}
	c.attempts.Add(1)
	s.req = l.t.appendRequest(s.req[:0], s.body)
	s.wrote, s.rb, s.eof, s.need = 0, s.rb[:0], false, 0
	s.deadline = time.Now().Add(c.Timeout)
	l.checkAt = earliest(l.checkAt, s.deadline)
	l.write(s)
}

// write writes what the socket takes of the request.
func (l *loop) write(s *slot) {
	for s.wrote < len(s.req) {
		n, err := rawWrite(s.fd, s.req[s.wrote:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if !s.writing {
				s.writing = true
				l.watch(s, syscall.EPOLL_CTL_MOD, syscall.EPOLLIN|syscall.EPOLLOUT)
			}
			return
		case err != nil:
			// The connection was reused: the server may have closed it
			// (see errStale).
			l.fail(s, 0, l.opError(s, "write", err))
			return
		}
		s.wrote += n
	}
	if s.writing {
		s.writing = false
		l.watch(s, syscall.EPOLL_CTL_MOD, syscall.EPOLLIN)
	}
}

// read reads what the connection has of the response, and takes the
// response once it is whole.
func (l *loop) read(s *slot) {
	for {
		if len(s.rb) == cap(s.rb) {
			s.rb = append(s.rb, 0)[:len(s.rb)]
			if cap(s.rb) < 16<<10 {
				s.rb = make([]byte, 0, 16<<10)
			}
		}
		n, err := rawRead(s.fd, s.rb[len(s.rb):cap(s.rb)])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return
		case err != nil:
			l.fail(s, 0, l.opError(s, "read", err))
			return
		case n == 0:
			s.eof = true
		}
		full := len(s.rb)+n == cap(s.rb)
		s.rb = s.rb[:len(s.rb)+n]
		if len(s.rb) < s.need && !s.eof {
			if full {
				continue
			}
			return
		}
		p, need, err := parseResponse(s.rb, s.eof, nil)
		switch {
		case err == errNeedMore:
			s.need = need
			if full {
				continue
			}
			return
		case err != nil:
			l.fail(s, p.status, err)
			return
		}
		comp, err := finish(p.status, p.retryAfter, p.body)
		if !p.keep || p.n < len(s.rb) || s.wrote < len(s.req) {
			l.closeConn(s)
		}
		if err != nil {
			l.handOff(s, err)
			return
		}
		comp.Attempts = 1
		l.end(s, comp, nil, l.r.now())
		return
	}
}

// fail ends an attempt cut by err, classifying it as onceH1 does (status
// is the response's, if its status line was read): the slot's connection
// was reused, so that an end before any answer is a stale connection.
func (l *loop) fail(s *slot, status int, err error) {
	l.closeConn(s)
	switch {
	case errors.Is(err, ErrMalformed):
	case status == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err)):
		err = &staleError{err}
	default:
		err = l.c.transportError(false, err)
	}
	l.handOff(s, err)
}

// expire ends the attempts past their deadline, and finds the next one.
func (l *loop) expire(now time.Time) {
	l.checkAt = time.Time{}
	for _, s := range l.slots {
		if s.item < 0 || s.away {
			continue
		}
		if !now.Before(s.deadline) {
			l.closeConn(s)
			l.handOff(s, l.c.transportError(true, nil))
			continue
		}
		l.checkAt = earliest(l.checkAt, s.deadline)
	}
}

// handOff gives the slot's item to a goroutine: with err nil, to make its
// first attempt (the slot has no connection); otherwise to finish the
// attempt that ended with err, as Client.do would have. The connection,
// when the slot still has one, goes to the pool for it.
func (l *loop) handOff(s *slot, err error) {
	if s.fd >= 0 {
		l.release(s)
	}
	s.away = true
	c, ctx, body := l.c, l.r.ctx, s.body
	go func() {
		var comp *Completion
		switch {
		case err == nil:
			comp, err = c.do(ctx, body)
		case errors.Is(err, errStale):
			// As h1Transport.post: the same attempt, on a new connection.
			comp, err = c.attempt(ctx, body, true)
			comp, err = c.retry(ctx, body, 1, comp, err)
		default:
			comp, err = c.retry(ctx, body, 1, nil, err)
		}
		at := l.r.now()
		l.mu.Lock()
		l.back = append(l.back, handBack{s: s, comp: comp, err: err, at: at})
		l.mu.Unlock()
		l.wakeUp()
	}()
}

// end finishes the slot's item, with its completion (received at at) or
// the error it failed with, and starts the next.
func (l *loop) end(s *slot, comp *Completion, err error, at time.Time) {
	i := s.item
	var o *Outcome
	if err == nil {
		it := &l.r.items[i]
		o = &Outcome{
			ID: it.Sample.ID, Epoch: it.Sample.Epoch, Output: comp.Content, FinishReason: comp.FinishReason,
			Model: comp.Model, Usage: comp.Usage, Attempts: comp.Attempts, Seconds: roundSeconds(at.Sub(s.t0)), At: at.UTC(),
		}
		var sc Score
		if sc, err = l.r.cfg.Scorer.Score(l.r.ctx, it.Sample, o.Output); err == nil {
			o.Score = &sc
			err = l.record(o)
		}
	}
	if err != nil {
		o = nil
	}
	l.r.finish(i, o, err)
	l.dispatch(s)
}

// record queues o's line for the state file.
func (l *loop) record(o *Outcome) error {
	st := l.r.cfg.State
	if st == nil {
		return nil
	}
	if err := st.Err(); err != nil {
		return err
	}
	n := len(l.lines)
	var err error
	if l.lines, err = appendLine(l.lines, o); err != nil {
		return err
	}
	if n == 0 {
		l.linesAt = time.Now()
	}
	return nil
}

// flush writes the queued outcome lines, and owes their fsync.
func (l *loop) flush(now time.Time) {
	if len(l.lines) == 0 {
		return
	}
	l.r.cfg.State.writeLines(l.lines) // an error is the state's, seen by the next record
	l.lines = l.lines[:0]
	if l.syncAt.IsZero() {
		l.syncAt = l.lastSync.Add(SyncInterval)
		if l.syncAt.Before(now) {
			l.syncAt = now
		}
	}
}

// adopt gives the slot a connection from the client's pool, reporting
// false when the pool has none.
func (l *loop) adopt(s *slot) bool {
	for {
		hc := l.t.takeIdle()
		if hc == nil {
			return false
		}
		fd := -1
		err := errors.New("no raw connection")
		if hc.rc != nil {
			hc.rc.Control(func(sfd uintptr) { fd, err = dupFD(int(sfd)) })
		}
		l.t.close(hc) // the copy, if any, keeps the socket open
		if err != nil {
			continue
		}
		s.fd = fd
		s.gen++
		if l.watch(s, syscall.EPOLL_CTL_ADD, syscall.EPOLLIN) != nil {
			syscall.Close(fd)
			s.fd = -1
			continue
		}
		return true
	}
}

// release gives the slot's connection to the client's pool.
func (l *loop) release(s *slot) {
	syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, s.fd, nil)
	f := os.NewFile(uintptr(s.fd), "")
	nc, err := net.FileConn(f) // with a copy of the descriptor
	f.Close()
	s.fd, s.writing = -1, false
	if err == nil {
		l.t.put(l.t.add(nc))
	}
}

// closeConn closes the slot's connection, if it has one.
func (l *loop) closeConn(s *slot) {
	if s.fd < 0 {
		return
	}
	// Deleted first: a copy of the descriptor would keep it registered.
	syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, s.fd, nil)
	syscall.Close(s.fd)
	s.fd, s.writing = -1, false
}

// watch registers (or modifies) the slot's connection in the epoll
// instance.
func (l *loop) watch(s *slot, op int, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(s.id), Pad: s.gen}
	return syscall.EpollCtl(l.ep, op, s.fd, &ev)
}

// opError wraps a system call's error as net.Conn's methods do.
func (l *loop) opError(s *slot, op string, err error) error {
	var laddr, raddr net.Addr
	if sa, e := syscall.Getsockname(s.fd); e == nil {
		laddr = sockaddrAddr(sa)
	}
	if sa, e := syscall.Getpeername(s.fd); e == nil {
		raddr = sockaddrAddr(sa)
	}
	return &net.OpError{Op: op, Net: "tcp", Source: laddr, Addr: raddr, Err: os.NewSyscallError(op, err)}
}

func sockaddrAddr(sa syscall.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

// staleError is the end of a reused connection before any answer (see
// errStale).
type staleError struct{ err error }

func (e *staleError) Error() string   { return errStale.Error() + ": " + e.err.Error() }
func (e *staleError) Unwrap() []error { return []error{errStale, e.err} }

// dupFD duplicates a descriptor, close-on-exec.
func dupFD(fd int) (int, error) {
	nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(nfd), nil
}

// epollPoll returns the events ready in ep, without waiting (see
// raw_linux.go).
func epollPoll(ep int, evs []syscall.EpollEvent) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(unsafe.SliceData(evs))), uintptr(len(evs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
