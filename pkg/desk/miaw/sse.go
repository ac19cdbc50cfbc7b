package miaw

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"
)

// SSEEvent is one dispatched Server-Sent Event.
type SSEEvent struct {
	// Type is the event field ("message" when the event had none).
	Type string
	// Data is the data lines joined with "\n".
	Data string
	// ID is the last event id in effect when the event was dispatched (the id field of this
	// event or of an earlier one), as EventSource's lastEventId.
	ID string
	// HasID reports whether this event carried an id field itself.
	HasID bool
}

// maxSSELine bounds one line of the stream.
const maxSSELine = 1 << 20

// SSEReader parses a text/event-stream (the WHATWG HTML "event stream interpretation"): lines
// end with CRLF, LF or CR; a line starting with ":" is a comment (heartbeat); "field: value"
// with one optional space after the colon; data lines accumulate; a blank line dispatches; an
// event without data is not dispatched; an id containing NUL is ignored; an event cut off by
// the end of the stream is discarded. A leading byte order mark is skipped.
type SSEReader struct {
	sc    *bufio.Scanner
	first bool
	last  string        // last event id
	retry time.Duration // last retry field

	typ     string
	data    strings.Builder
	hasData bool
	hasID   bool
}

// NewSSEReader returns a parser reading r.
func NewSSEReader(r io.Reader) *SSEReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSSELine)
	sc.Split(splitLines)
	return &SSEReader{sc: sc, first: true}
}

// SetLastEventID sets the id in effect before the first id field (the Last-Event-Id sent).
func (p *SSEReader) SetLastEventID(id string) { p.last = id }

// Retry returns the last retry field (0 if none).
func (p *SSEReader) Retry() time.Duration { return p.retry }

// Next returns the next event. At the end of the stream it returns io.EOF (or the read error);
// a line longer than 1 MiB is bufio.ErrTooLong.
func (p *SSEReader) Next() (SSEEvent, error) {
	for p.sc.Scan() {
		line := p.sc.Bytes()
		if p.first {
			p.first = false
			line = bytes.TrimPrefix(line, []byte("\ufeff"))
		}
		if len(line) == 0 {
			if ev, ok := p.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if line[0] == ':' {
			continue // comment
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			p.typ = string(value)
		case "data":
			if p.hasData {
				p.data.WriteByte('\n')
			}
			p.data.Write(value)
			p.hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				p.last = string(value)
				p.hasID = true
			}
		case "retry":
			if n, err := strconv.ParseUint(string(value), 10, 31); err == nil && len(value) > 0 && allDigits(value) {
				p.retry = time.Duration(n) * time.Millisecond
			}
		}
	}
	err := p.sc.Err()
	if err == nil {
		err = io.EOF
	}
	return SSEEvent{}, err
}

func (p *SSEReader) dispatch() (SSEEvent, bool) {
	defer func() {
		p.typ, p.hasData, p.hasID = "", false, false
		p.data.Reset()
	}()
	if !p.hasData {
		return SSEEvent{}, false
	}
	typ := p.typ
	if typ == "" {
		typ = "message"
	}
	return SSEEvent{Type: typ, Data: p.data.String(), ID: p.last, HasID: p.hasID}, true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// splitLines splits on CRLF, LF or a lone CR. A CR at the end of the buffered data waits for
// the next byte, so a CRLF split across reads is one line end.
func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	i := bytes.IndexAny(data, "\r\n")
	if i < 0 {
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	}
	if data[i] == '\n' {
		return i + 1, data[:i], nil
	}
	if i+1 < len(data) {
		if data[i+1] == '\n' {
			return i + 2, data[:i], nil
		}
		return i + 1, data[:i], nil
	}
	if atEOF {
		return i + 1, data[:i], nil
	}
	return 0, nil, nil
}
