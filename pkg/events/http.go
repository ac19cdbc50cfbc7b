package events

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// deniedPrefixes are the ranges refused on top of the netip predicates
// (loopback, private, link-local, multicast, unspecified).
var deniedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local (cloud metadata)
	netip.MustParsePrefix("fd00:ec2::/32"),   // AWS IMDS over IPv6 (also ULA)
	netip.MustParsePrefix("2002::/16"),       // 6to4 (can embed any IPv4)
	netip.MustParsePrefix("2001::/32"),       // Teredo (can embed any IPv4)
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
}

// PrivateAddr reports whether a is an address that an endpoint may reach
// only with AllowPrivate: loopback, private (RFC 1918, ULA), link-local,
// multicast, unspecified, CGNAT, reserved, and IPv6 forms that embed one.
func PrivateAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range deniedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	// NAT64 (64:ff9b::/96) embeds an IPv4 address in its last 4 bytes.
	if nat64 := netip.MustParsePrefix("64:ff9b::/96"); nat64.Contains(a) {
		b := a.As16()
		return PrivateAddr(netip.AddrFrom4([4]byte(b[12:])))
	}
	return false
}

// guardControl refuses, at dial time, to connect to a private address: the
// check runs on the address actually dialled, after DNS resolution, so a
// hostname that resolves (or re-resolves) to an internal address is caught.
func guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrPrivateAddress, address)
	}
	if PrivateAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ap.Addr())
	}
	return nil
}

// NewTransport returns the transport used for an endpoint: no proxy (the
// guard must see the real destination), the dial-time address guard unless
// allowPrivate, and HTTP/2 when the server offers it.
func NewTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 0, // the client's Timeout bounds the attempt
		ExpectContinueTimeout: time.Second,
	}
}

// newClient is the client of one endpoint: its timeout, and redirects
// returned as they are (a 3xx is a failed attempt, never followed).
func newClient(rt http.RoundTripper, timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: rt,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// excerpt is at most n bytes of b, cut on a rune boundary, valid UTF-8
// (invalid bytes become '?', so the length stays within n).
func excerpt(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	return strings.ToValidUTF8(string(b), "?")
}

// appsScriptAck reports whether a 3xx is how a Google Apps Script web app
// acknowledges a POST: /macros/s/…/exec runs doPost, then answers 302 to
// script.googleusercontent.com, where its output waits. The redirect is not
// followed either way; only this exact answer counts as delivered.
func appsScriptAck(u *url.URL, resp *http.Response) bool {
	if u.Hostname() != "script.google.com" || (resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther) {
		return false
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	return err == nil && loc.Scheme == "https" && loc.Hostname() == "script.googleusercontent.com"
}
