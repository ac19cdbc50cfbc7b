package line

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/line/line-bot-sdk-go/v8/linebot/messaging_api"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// StatusError is a non-2xx answer of the LINE Platform.
type StatusError struct {
	Op        string // "push", "reply", "markAsRead" …
	Status    int
	Message   string // the platform's error message, if any
	RequestID string // x-line-request-id
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("line: %s: status %d", e.Op, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// Temporary reports whether retrying may help: 429 and 5xx.
func (e *StatusError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// callError classifies the outcome of an SDK call: nil for 2xx (even when the
// SDK failed to decode the body), a *StatusError for other statuses
// (wrapping bridge.ErrPermanent unless Temporary), and a wrapped transport
// error otherwise (retryable).
func callError(op string, res *http.Response, err error) error {
	if res == nil {
		if err == nil {
			return nil
		}
		return fmt.Errorf("line: %s: %w", op, err)
	}
	if res.StatusCode/100 == 2 {
		return nil
	}
	se := &StatusError{Op: op, Status: res.StatusCode, RequestID: res.Header.Get("X-Line-Request-Id")}
	if res.Body != nil {
		var er messaging_api.ErrorResponse
		if b, rerr := io.ReadAll(io.LimitReader(res.Body, 64<<10)); rerr == nil {
			if jerr := json.Unmarshal(b, &er); jerr == nil {
				se.Message = er.Message
			}
		}
	}
	if se.Temporary() {
		return se
	}
	return fmt.Errorf("%w: %w", bridge.ErrPermanent, se)
}

// retryable reports whether err is worth another attempt.
func retryable(err error) bool {
	if err == nil || errors.Is(err, bridge.ErrPermanent) {
		return false
	}
	return !errors.Is(err, context.Canceled)
}

// isTimeout reports whether err is a timeout (for logs).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
