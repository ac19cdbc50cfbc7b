package harness

import (
	"bufio"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// CountingProxy is a TCP proxy in front of Redis that counts what its clients
// send: commands (by name) and round trips. A round trip is a burst of
// client→server bytes that is followed by a reply, so a pipeline or a
// MULTI … EXEC transaction written at once counts as one round trip and as
// several commands. Server pushes (pub/sub messages) count as neither.
//
// EVALSHA and EVAL are named after the key names they touch, with the
// customer hash tag removed (for example "EVALSHA chat,log,lease"), so the
// store's scripts can be told apart.
type CountingProxy struct {
	ln       net.Listener
	upstream string

	roundTrips atomic.Int64
	commands   atomic.Int64
	mu         sync.Mutex
	byName     map[string]int64
	conns      map[net.Conn]struct{}
	wg         sync.WaitGroup
	closed     atomic.Bool
}

// NewCountingProxy listens on a free loopback port and forwards to upstream
// ("host:port").
func NewCountingProxy(upstream string) (*CountingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &CountingProxy{ln: ln, upstream: upstream, byName: map[string]int64{}, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's "host:port".
func (p *CountingProxy) Addr() string { return p.ln.Addr().String() }

// Close stops the proxy and cuts every connection.
func (p *CountingProxy) Close() {
	p.closed.Store(true)
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Counts is a snapshot of the counters.
type Counts struct {
	RoundTrips int64
	Commands   int64
	ByName     map[string]int64
}

// Counts returns the counters so far.
func (p *CountingProxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Counts{RoundTrips: p.roundTrips.Load(), Commands: p.commands.Load(), ByName: maps.Clone(p.byName)}
}

// Sub returns c − o.
func (c Counts) Sub(o Counts) Counts {
	d := Counts{RoundTrips: c.RoundTrips - o.RoundTrips, Commands: c.Commands - o.Commands, ByName: map[string]int64{}}
	for k, v := range c.ByName {
		if n := v - o.ByName[k]; n != 0 {
			d.ByName[k] = n
		}
	}
	return d
}

// Names returns the command names sorted by count, highest first.
func (c Counts) Names() []string {
	names := slices.Collect(maps.Keys(c.ByName))
	slices.SortFunc(names, func(a, b string) int {
		if c.ByName[a] != c.ByName[b] {
			if c.ByName[a] > c.ByName[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	return names
}

func (p *CountingProxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *CountingProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *CountingProxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	p.track(client, true)
	p.track(server, true)
	defer p.track(client, false)
	defer p.track(server, false)
	if p.closed.Load() {
		return
	}

	var awaiting atomic.Bool // client bytes sent, no reply seen yet
	done := make(chan struct{})
	go func() { // server → client
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				awaiting.Store(false)
				if _, werr := client.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		_ = client.Close()
	}()
	// client → server, through a tee that forwards each chunk as soon as it
	// is read, and a parser that reads the same bytes behind it.
	tee := &teeCounter{src: client, dst: server, onChunk: func() {
		if !awaiting.Swap(true) {
			p.roundTrips.Add(1)
		}
	}}
	br := bufio.NewReaderSize(tee, 64<<10)
	for {
		name, err := readCommand(br)
		if err != nil {
			break
		}
		if name == "" {
			continue
		}
		p.commands.Add(1)
		p.mu.Lock()
		p.byName[name]++
		p.mu.Unlock()
	}
	_ = server.Close()
	<-done
}

type teeCounter struct {
	src     io.Reader
	dst     io.Writer
	onChunk func()
}

func (t *teeCounter) Read(b []byte) (int, error) {
	n, err := t.src.Read(b)
	if n > 0 {
		t.onChunk()
		if _, werr := t.dst.Write(b[:n]); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// readCommand reads one RESP request (an array of bulk strings, or an
// inline command) and returns its name.
func readCommand(r *bufio.Reader) (string, error) {
	line, err := readLine(r)
	if err != nil {
		return "", err
	}
	if len(line) == 0 {
		return "", nil
	}
	if line[0] != '*' { // inline command
		f := strings.Fields(line)
		if len(f) == 0 {
			return "", nil
		}
		return strings.ToUpper(f[0]), nil
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n <= 0 {
		return "", nil
	}
	args := make([]string, 0, min(n, 8))
	for i := 0; i < n; i++ {
		hdr, err := readLine(r)
		if err != nil {
			return "", err
		}
		if len(hdr) == 0 || hdr[0] != '$' {
			return "", nil
		}
		size, err := strconv.Atoi(hdr[1:])
		if err != nil || size < 0 {
			return "", nil
		}
		// Keep the command name and the arguments that name a script call;
		// skip the rest without copying.
		if i < 8 {
			b := make([]byte, size+2)
			if _, err := io.ReadFull(r, b); err != nil {
				return "", err
			}
			args = append(args, string(b[:size]))
		} else if _, err := r.Discard(size + 2); err != nil {
			return "", err
		}
	}
	return commandName(args), nil
}

func readLine(r *bufio.Reader) (string, error) {
	s, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// commandName is the upper-case command, or for EVAL/EVALSHA the kinds of
// the keys it touches ("EVALSHA chat,log,lease").
func commandName(args []string) string {
	if len(args) == 0 {
		return ""
	}
	name := strings.ToUpper(args[0])
	if (name == "EVALSHA" || name == "EVAL" || name == "EVALSHA_RO") && len(args) >= 3 {
		nk, _ := strconv.Atoi(args[2])
		var kinds []string
		for i := 0; i < nk && 3+i < len(args); i++ {
			k := args[3+i]
			if j := strings.LastIndexByte(k, ':'); j >= 0 {
				k = k[j+1:]
			}
			kinds = append(kinds, k)
		}
		return name + " " + strings.Join(kinds, ",")
	}
	return name
}
