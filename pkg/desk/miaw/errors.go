package miaw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. A [*StatusError] matches exactly one of the status sentinels with errors.Is,
// chosen by its status code; transport failures match none (see [Temporary]).
var (
	// ErrBadRequest (400): parameters or body refused (e.g. a conversationId that is not a
	// lowercase UUID). Retrying the same request does not help.
	ErrBadRequest = errors.New("miaw: bad request")
	// ErrUnauthorized (401): the access token is invalid or expired. The client already minted
	// a new token once (authenticated mode) before returning it.
	ErrUnauthorized = errors.New("miaw: unauthorized (token invalid or expired)")
	// ErrForbidden (403): the token's end user may not access the resource.
	ErrForbidden = errors.New("miaw: forbidden")
	// ErrNotFound (404): unknown (or closed) conversation, or a wrong URL.
	ErrNotFound = errors.New("miaw: not found")
	// ErrConflict (409): e.g. a conversation or message id that already exists.
	ErrConflict = errors.New("miaw: conflict")
	// ErrNoSession (417): "the message failed because no messaging session exists" — the
	// agent (or inactivity) ended the messaging session. See [TextMessage.ResumeSession].
	ErrNoSession = errors.New("miaw: no messaging session")
	// ErrRateLimited (429): too many requests; [StatusError.RetryAfter] says how long to wait.
	ErrRateLimited = errors.New("miaw: rate limited")
	// ErrServer: a 5xx status.
	ErrServer = errors.New("miaw: server error")
	// ErrUnexpectedStatus: any other non-success status.
	ErrUnexpectedStatus = errors.New("miaw: unexpected status")

	// ErrTimeout: the client's own per-request deadline expired (the caller's context was
	// still live). Temporary.
	ErrTimeout = errors.New("miaw: request timed out")
	// ErrNoToken: the call has no way to get an access token (guest mode needs the token that
	// was minted for the conversation).
	ErrNoToken = errors.New("miaw: no access token for this user")
	// ErrVerificationFailed: an authenticated token was requested but Salesforce answered
	// with an anonymous one, which it does (with status 200) when the identity JWT fails
	// User Verification: wrong key, kid, issuer, or an expired JWT.
	ErrVerificationFailed = errors.New("miaw: user verification failed (anonymous token returned)")
	// ErrStreamSilent: the event stream sent nothing for longer than Config.SilenceTimeout.
	ErrStreamSilent = errors.New("miaw: event stream silent")
)

// maxErrorBody bounds StatusError.Body.
const maxErrorBody = 512

// StatusError is a non-success HTTP status.
type StatusError struct {
	Op         string // e.g. "send message"
	StatusCode int
	// Message is the "message" of the JSON error body, if any; Body is the raw body,
	// truncated to about 512 bytes.
	Message string
	Body    string
	// RetryAfter is the parsed Retry-After header of a 429 or 503 (0 if absent).
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s: status %d %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	switch {
	case e.Message != "":
		msg += ": " + e.Message
	case strings.TrimSpace(e.Body) != "":
		msg += ": " + strings.TrimSpace(e.Body)
	}
	return msg
}

// Is matches the sentinel for the status code.
func (e *StatusError) Is(target error) bool { return target == e.sentinel() }

func (e *StatusError) sentinel() error {
	switch c := e.StatusCode; {
	case c == http.StatusBadRequest:
		return ErrBadRequest
	case c == http.StatusUnauthorized:
		return ErrUnauthorized
	case c == http.StatusForbidden:
		return ErrForbidden
	case c == http.StatusNotFound:
		return ErrNotFound
	case c == http.StatusConflict:
		return ErrConflict
	case c == http.StatusExpectationFailed:
		return ErrNoSession
	case c == http.StatusTooManyRequests:
		return ErrRateLimited
	case c >= 500 && c < 600:
		return ErrServer
	default:
		return ErrUnexpectedStatus
	}
}

func newStatusError(op string, resp *http.Response, now time.Time) *StatusError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	if len(b) > maxErrorBody {
		b = append(b[:maxErrorBody], "…"...)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	e := &StatusError{Op: op, StatusCode: resp.StatusCode, Body: string(b)}
	var body struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &body) == nil {
		e.Message = body.Message
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	return e
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(secs, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// Temporary reports whether repeating the same call later may succeed: transport errors,
// [ErrTimeout], 429 and 5xx are temporary; other statuses and the caller's own cancellation
// are not.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.StatusCode == http.StatusTooManyRequests || se.StatusCode >= 500
	}
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrStreamSilent) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	_, ok := errors.AsType[net.Error](err)
	return ok
}
