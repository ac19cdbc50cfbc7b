package liveagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// Sentinel errors. A [*StatusError] matches exactly one of them with errors.Is, chosen by its
// status code; transport failures match none (see [Temporary]).
var (
	// ErrBadRequest (400): the request or its JSON body was not understood, or the
	// X-LIVEAGENT-API-VERSION header is missing. Retrying the same request will not help.
	ErrBadRequest = errors.New("liveagent: bad request")
	// ErrSessionInvalid (403): the session key or affinity is unknown, or the session has ended
	// or expired ("Session required but was invalid or not found"). The chat is over.
	ErrSessionInvalid = errors.New("liveagent: session invalid or not found")
	// ErrNotFound (404): the URI is wrong, usually a misconfigured host.
	ErrNotFound = errors.New("liveagent: not found")
	// ErrMethodNotAllowed (405).
	ErrMethodNotAllowed = errors.New("liveagent: method not allowed")
	// ErrDuplicatePoll (409): a second Messages long poll ran for the same session. Salesforce
	// documents that this terminates the chat. (Some clients also see 409 on ChatMessage as a
	// sequence conflict; the status is the same.)
	ErrDuplicatePoll = errors.New("liveagent: duplicate long poll (conflict)")
	// ErrRateLimited (429).
	ErrRateLimited = errors.New("liveagent: rate limited")
	// ErrServer (500): a server error. Live Agent also answers 500 to requests sent before
	// ChatEstablished; the two cannot be told apart.
	ErrServer = errors.New("liveagent: server error")
	// ErrAffinityChanged (503): the session moved to another server. Call
	// [Client.ReconnectSession], then [Client.ChasitorResyncState], then resume polling.
	ErrAffinityChanged = errors.New("liveagent: affinity changed")
	// ErrUpstream: any other 5xx (502, 504 …), typically from a proxy in front of Live Agent.
	ErrUpstream = errors.New("liveagent: upstream server error")
	// ErrUnexpectedStatus: any other non-success status.
	ErrUnexpectedStatus = errors.New("liveagent: unexpected status")
	// ErrTimeout: the client's own per-call deadline expired (the caller's context was still
	// live). Temporary.
	ErrTimeout = errors.New("liveagent: request timed out")
	// ErrSwitchServer: a Visitor/* call answered SwitchServer; see [*SwitchServerError].
	ErrSwitchServer = errors.New("liveagent: switch server")
)

// maxErrorBody bounds StatusError.Body.
const maxErrorBody = 512

// StatusError is a non-success HTTP status from Live Agent.
type StatusError struct {
	Op         string // the resource, e.g. "messages", "chat message"
	StatusCode int
	Body       string // the response body, truncated to about 512 bytes
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if b := strings.TrimSpace(e.Body); b != "" {
		msg += ": " + b
	}
	return msg
}

// Is matches the sentinel for the status code.
func (e *StatusError) Is(target error) bool {
	return target == e.sentinel()
}

func (e *StatusError) sentinel() error {
	switch c := e.StatusCode; {
	case c == http.StatusBadRequest:
		return ErrBadRequest
	case c == http.StatusForbidden:
		return ErrSessionInvalid
	case c == http.StatusNotFound:
		return ErrNotFound
	case c == http.StatusMethodNotAllowed:
		return ErrMethodNotAllowed
	case c == http.StatusConflict:
		return ErrDuplicatePoll
	case c == http.StatusTooManyRequests:
		return ErrRateLimited
	case c == http.StatusInternalServerError:
		return ErrServer
	case c == http.StatusServiceUnavailable:
		return ErrAffinityChanged
	case c > 500 && c < 600:
		return ErrUpstream
	default:
		return ErrUnexpectedStatus
	}
}

// SwitchServerError is returned when a Visitor/* resource answers SwitchServer: the org lives on
// another Live Agent instance. Configure NewURL as the host.
type SwitchServerError struct {
	Op     string
	NewURL string
}

func (e *SwitchServerError) Error() string { return "switch server to " + e.NewURL }

// Is matches [ErrSwitchServer].
func (e *SwitchServerError) Is(target error) bool { return target == ErrSwitchServer }

// Temporary reports whether repeating the same call later may succeed:
//
//   - network errors (connection refused or reset, DNS, unexpected EOF) and [ErrTimeout]: true;
//   - 429 and 5xx: true, except 503 ([ErrAffinityChanged]), which is not temporary: the session
//     must be reconnected with [Client.ReconnectSession] first. Note that a 500 is also what Live
//     Agent answers to a request sent before ChatEstablished; that case cannot be told apart
//     from a transient server error, so callers should hold visitor messages until
//     ChatEstablished and bound their retries;
//   - 400, 403, 404, 405, 409 and the caller's own context cancellation or deadline: false.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch c := se.StatusCode; {
		case c == http.StatusTooManyRequests:
			return true
		case c == http.StatusServiceUnavailable:
			return false
		case c >= 500 && c < 600:
			return true
		default:
			return false
		}
	}
	if errors.Is(err, ErrTimeout) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}
