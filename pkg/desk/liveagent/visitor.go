package liveagent

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Availability reports whether agents can take chats on the given buttons (Config.ButtonID when
// none is given): GET Visitor/Availability, API version header only. A response of type
// SwitchServer yields a [*SwitchServerError].
func (c *Client) Availability(ctx context.Context, buttonIDs ...string) ([]AvailabilityResult, error) {
	if len(buttonIDs) == 0 {
		buttonIDs = []string{c.cfg.ButtonID}
	}
	q := url.Values{
		"org_id":                             {c.cfg.OrgID},
		"deployment_id":                      {c.cfg.DeploymentID},
		"Availability.ids":                   {strings.Join(buttonIDs, ",")},
		"Availability.needEstimatedWaitTime": {"1"},
	}
	_, b, err := c.do(ctx, call{op: "availability", method: http.MethodGet, path: "Visitor/Availability", query: q, headers: hdrVersion})
	if err != nil {
		return nil, fmt.Errorf("liveagent: availability: %w", err)
	}
	m, err := DecodeMessages(b)
	if err != nil {
		return nil, fmt.Errorf("liveagent: availability: %w", err)
	}
	var out []AvailabilityResult
	for _, msg := range m.Messages {
		v, err := msg.Decode()
		if err != nil {
			return nil, fmt.Errorf("liveagent: availability: %w", err)
		}
		switch p := v.(type) {
		case Availability:
			out = append(out, p.Results...)
		case SwitchServer:
			return nil, fmt.Errorf("liveagent: availability: %w", &SwitchServerError{Op: "availability", NewURL: p.NewURL})
		}
	}
	return out, nil
}
