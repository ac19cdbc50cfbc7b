package miaw_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/miaw"
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw/miawsim"
)

// capture records the identity tokens sent to the simulator.
type capture struct {
	mu     sync.Mutex
	tokens []string
	next   http.Handler
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/authenticated/access-token") {
		b, _ := io.ReadAll(r.Body)
		var in struct {
			Token string `json:"customerIdentityToken"`
		}
		_ = json.Unmarshal(b, &in)
		c.mu.Lock()
		c.tokens = append(c.tokens, in.Token)
		c.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	c.next.ServeHTTP(w, r)
}

// verifyJWS checks a compact JWS with pub and returns its header and claims.
func verifyJWS(t *testing.T, token string, pub crypto.PublicKey) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", token)
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("base64url: %v", err)
		}
		return b
	}
	if err := json.Unmarshal(dec(parts[0]), &header); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(dec(parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	sig := dec(parts[2])
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if header["alg"] != "RS256" {
			t.Fatalf("alg = %v", header["alg"])
		}
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("RS256 signature: %v", err)
		}
	case *ecdsa.PublicKey:
		if header["alg"] != "ES256" || len(sig) != 64 {
			t.Fatalf("alg = %v, signature %d bytes", header["alg"], len(sig))
		}
		if !ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			t.Fatal("ES256 signature does not verify")
		}
	}
	return header, claims
}

func TestAuthenticatedTokenJWT(t *testing.T) {
	ec := testECKey(t)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"RS256", testRSAKey(t)}, {"ES256", ec}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *miawsim.Options) { o.VerificationKeys = []crypto.PublicKey{tc.key.Public()} })
			cp := &capture{next: f.sim}
			srv := httptest.NewServer(cp)
			defer srv.Close()
			cfg := f.config(true)
			cfg.URL, cfg.PrivateKey = srv.URL, pemOf(t, tc.key)
			c := f.clientWith(cfg)
			tok, err := c.AuthenticatedToken(ctxT(t), "U1234567890")
			if err != nil {
				t.Fatal(err)
			}
			if tok.Subject != "v2/iamessage/AUTH/LineBridge/uid:U1234567890" || tok.AccessToken == "" || tok.LastEventID == "" {
				t.Fatalf("token = %+v", tok)
			}
			if d := time.Until(tok.Expiry); d < 50*time.Minute || d > 61*time.Minute {
				t.Fatalf("expiry in %v, want the access token's exp (1h)", d)
			}
			if len(cp.tokens) != 1 {
				t.Fatalf("%d identity tokens sent", len(cp.tokens))
			}
			header, claims := verifyJWS(t, cp.tokens[0], tc.key.Public())
			jwks, err := miaw.PublicJWKS(pemOf(t, tc.key), "")
			if err != nil {
				t.Fatal(err)
			}
			var set struct {
				Keys []struct {
					Kid, Kty, Alg string
				} `json:"keys"`
			}
			if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("JWKS %s: %v", jwks, err)
			}
			if header["kid"] != set.Keys[0].Kid || header["kid"] != c.KeyID() || set.Keys[0].Alg != tc.name {
				t.Fatalf("kid %v, JWKS %+v, client %s", header["kid"], set.Keys[0], c.KeyID())
			}
			exp, iat := claims["exp"].(float64), claims["iat"].(float64)
			if claims["sub"] != "U1234567890" || claims["iss"] != testIssuer || exp-iat != 300 || claims["jti"] == "" {
				t.Fatalf("claims = %v", claims)
			}
		})
	}
}

// Salesforce answers a failed User Verification with 200 and an anonymous token.
func TestAuthenticatedTokenVerificationFailure(t *testing.T) {
	f := newFixture(t, func(o *miawsim.Options) { o.VerificationKeys = []crypto.PublicKey{testECKey(t).Public()} })
	_, err := f.client(false).AuthenticatedToken(ctxT(t), "U1")
	if !errors.Is(err, miaw.ErrVerificationFailed) {
		t.Fatalf("err = %v", err)
	}
	if f.sim.Stats().VerificationFailures != 1 {
		t.Fatalf("stats = %+v", f.sim.Stats())
	}
}

func TestGuestAndContinuationTokens(t *testing.T) {
	f := newFixture(t)
	c := f.client(true)
	if c.Authenticated() {
		t.Fatal("guest client reports authenticated")
	}
	g, err := c.UnauthenticatedToken(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(g.Subject, "/UNAUTH/") {
		t.Fatalf("guest subject %q", g.Subject)
	}
	cont, err := c.ContinuationToken(ctxT(t), g.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if cont.Subject != g.Subject || cont.AccessToken == g.AccessToken || !cont.Expiry.Equal(g.Expiry) {
		t.Fatalf("continuation %+v of %+v", cont, g)
	}
	if _, err := c.Token(ctxT(t), "U1"); !errors.Is(err, miaw.ErrNoToken) {
		t.Fatalf("Token in guest mode = %v", err)
	}
	f.sim.ExpireTokens()
	if _, err := c.ContinuationToken(ctxT(t), g.AccessToken); !errors.Is(err, miaw.ErrUnauthorized) {
		t.Fatalf("continuation of an expired token = %v", err)
	}
}

// The cache mints once per user and renews a token near its expiry.
func TestTokenCache(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	now := time.Now()
	cfg := f.config(false)
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := f.clientWith(cfg)
	var wg sync.WaitGroup
	toks := make([]miaw.Token, 8)
	for i := range toks {
		wg.Go(func() {
			tok, err := c.Token(ctxT(t), "Ucache")
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		})
	}
	wg.Wait()
	if n := f.sim.Stats().TokensAuthenticated; n != 1 {
		t.Fatalf("%d tokens minted for concurrent callers", n)
	}
	for _, tok := range toks[1:] {
		if tok.AccessToken != toks[0].AccessToken {
			t.Fatal("callers got different tokens")
		}
	}
	if _, err := c.Token(ctxT(t), "Uother"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = toks[0].Expiry.Add(-30 * time.Second) // inside the 1m renewal margin
	mu.Unlock()
	renewed, err := c.Token(ctxT(t), "Ucache")
	if err != nil {
		t.Fatal(err)
	}
	if renewed.AccessToken == toks[0].AccessToken || f.sim.Stats().TokensAuthenticated != 3 {
		t.Fatalf("token not renewed near expiry (stats %+v)", f.sim.Stats())
	}
}

func TestConversationCalls(t *testing.T) {
	f := newFixture(t)
	c := f.client(false)
	u := miaw.User{ID: "Ucalls"}
	ctx := ctxT(t)
	if err := c.CreateConversation(ctx, u, "NOT-A-UUID", nil); !errors.Is(err, miaw.ErrBadRequest) {
		t.Fatalf("create with a bad id = %v", err)
	}
	conv := miaw.ConversationID("3f0c9d3e-2b6a-4c1e-9a55-0f6d2c1b7e10")
	if err := c.CreateConversation(ctx, u, conv, map[string]string{"LineUserId": "Ucalls"}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateConversation(ctx, u, conv, nil); !errors.Is(err, miaw.ErrConflict) {
		t.Fatalf("second create = %v", err)
	}
	_ = f.sim.Accept(string(conv))
	msg := miaw.TextMessage{ID: "6b1d2c3e-4f50-4a1b-8c2d-3e4f5a6b7c8d", Text: "hello"}
	if err := c.SendText(ctx, u, conv, msg); err != nil {
		t.Fatal(err)
	}
	if err := c.SendTyping(ctx, u, conv, "7c2d3e4f-5061-4b2c-9d3e-4f5a6b7c8d9e", true); err != nil {
		t.Fatal(err)
	}
	_ = f.sim.AgentSend(string(conv), "hi there")
	entries, err := c.EntriesSince(ctx, u, conv, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range entries {
		types = append(types, e.EntryType)
		if len(e.Payload) == 0 || e.Payload[0] != '{' {
			t.Fatalf("entry payload not normalised to an object: %s", e.Payload)
		}
	}
	if want := []string{"RoutingResult", "ParticipantChanged", "Message", "Message"}; !slices.Equal(types, want) {
		t.Fatalf("entry types = %v, want %v", types, want)
	}
	var p miaw.MessagePayload
	if err := json.Unmarshal(entries[3].Payload, &p); err != nil || p.Text() != "hi there" || entries[3].Sender.Role != miaw.RoleAgent {
		t.Fatalf("agent entry %+v: %v", entries[3], err)
	}
	newest, err := c.Entries(ctx, u, conv, miaw.EntriesQuery{Limit: 1, Direction: miaw.FromEnd, EntryTypes: []string{"Message"}})
	if err != nil || len(newest) != 1 || newest[0].Identifier != entries[3].Identifier {
		t.Fatalf("newest message = %+v, %v", newest, err)
	}
	// The agent ends the session: a plain send is 417; with ResumeSession it starts a new one.
	_ = f.sim.EndSession(string(conv))
	msg2 := miaw.TextMessage{ID: "8d3e4f50-6172-4c3d-8e4f-5a6b7c8d9e0f", Text: "are you there?"}
	if err := c.SendText(ctx, u, conv, msg2); !errors.Is(err, miaw.ErrNoSession) {
		t.Fatalf("send without a session = %v", err)
	}
	if err := c.SendTyping(ctx, u, conv, "9e4f5061-7283-4d4e-9f50-6b7c8d9e0f1a", true); !errors.Is(err, miaw.ErrNoSession) {
		t.Fatalf("typing without a session = %v", err)
	}
	msg2.ResumeSession, msg2.RoutingAttributes = true, map[string]string{"LineUserId": "Ucalls"}
	if err := c.SendText(ctx, u, conv, msg2); err != nil {
		t.Fatalf("send resuming the session: %v", err)
	}
	v, _ := f.sim.Conversation(string(conv))
	if v.Sessions != 2 || v.State != miawsim.StateQueued || !slices.Equal(v.EndUserTexts(), []string{"hello", "are you there?"}) {
		t.Fatalf("after resume: %+v", v)
	}
	if err := c.EndSession(ctx, u, conv); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseConversation(ctx, u, conv); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseConversation(ctx, u, conv); !errors.Is(err, miaw.ErrNotFound) {
		t.Fatalf("second close = %v", err)
	}
	// Another end user may not touch the conversation.
	if _, err := c.Entries(ctx, miaw.User{ID: "Uintruder"}, conv, miaw.EntriesQuery{}); !errors.Is(err, miaw.ErrForbidden) {
		t.Fatalf("entries of another user = %v", err)
	}
}

// The entries list may carry entryPayload as a JSON string, like the event stream.
func TestEntriesPayloadAsString(t *testing.T) {
	f := newFixture(t, func(o *miawsim.Options) { o.EntriesPayloadAsString = true })
	c := f.client(false)
	u := miaw.User{ID: "Ustr"}
	conv := miaw.ConversationID("0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d")
	if err := c.CreateConversation(ctxT(t), u, conv, nil); err != nil {
		t.Fatal(err)
	}
	_ = f.sim.Accept(string(conv))
	_ = f.sim.AgentSend(string(conv), "as string")
	es, err := c.EntriesSince(ctxT(t), u, conv, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var p miaw.MessagePayload
	if err := json.Unmarshal(es[len(es)-1].Payload, &p); err != nil || p.Text() != "as string" {
		t.Fatalf("payload %s: %v", es[len(es)-1].Payload, err)
	}
}

// A 401 mints a new token once and retries (authenticated mode); guest tokens cannot be renewed.
func TestUnauthorizedRenewsTokenOnce(t *testing.T) {
	f := newFixture(t)
	c := f.client(false)
	u := miaw.User{ID: "U401"}
	conv := miaw.ConversationID("1b2c3d4e-5f60-4a7b-8c8d-9e0f1a2b3c4d")
	if err := c.CreateConversation(ctxT(t), u, conv, nil); err != nil {
		t.Fatal(err)
	}
	f.sim.ExpireTokens()
	if _, err := c.Entries(ctxT(t), u, conv, miaw.EntriesQuery{}); err != nil {
		t.Fatalf("entries after expiry: %v", err)
	}
	st := f.sim.Stats()
	if st.Unauthorized != 1 || st.TokensAuthenticated != 2 {
		t.Fatalf("stats = %+v", st)
	}
	// A 401 that persists is returned after one renewal.
	_ = f.sim.InjectFault(miawsim.Fault{Kind: "entries", Status: 401, Count: 2})
	if _, err := c.Entries(ctxT(t), u, conv, miaw.EntriesQuery{}); !errors.Is(err, miaw.ErrUnauthorized) {
		t.Fatalf("persistent 401 = %v", err)
	}
	if n := f.sim.Stats().TokensAuthenticated; n != 3 {
		t.Fatalf("%d tokens minted, want one more", n)
	}
	g := f.client(true)
	tok, err := g.UnauthenticatedToken(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	gu := miaw.User{Token: tok.AccessToken}
	gconv := miaw.ConversationID("2c3d4e5f-6071-4b8c-9d9e-0f1a2b3c4d5e")
	if err := g.CreateConversation(ctxT(t), gu, gconv, nil); err != nil {
		t.Fatal(err)
	}
	f.sim.ExpireTokens()
	if _, err := g.Entries(ctxT(t), gu, gconv, miaw.EntriesQuery{}); !errors.Is(err, miaw.ErrUnauthorized) {
		t.Fatalf("guest entries after expiry = %v", err)
	}
}

func TestRateLimitAndServerErrors(t *testing.T) {
	f := newFixture(t)
	c := f.client(false)
	u := miaw.User{ID: "U429"}
	conv := miaw.ConversationID("3d4e5f60-7182-4c9d-8eaf-1a2b3c4d5e6f")
	// A transient 5xx on create is retried with the same id.
	_ = f.sim.InjectFault(miawsim.Fault{Kind: "conversation", Status: 503})
	if err := c.CreateConversation(ctxT(t), u, conv, nil); err != nil {
		t.Fatalf("create after a 503: %v", err)
	}
	_ = f.sim.Accept(string(conv))
	// 429 with Retry-After: 1 → waits a second and succeeds.
	_ = f.sim.InjectFault(miawsim.Fault{Kind: "message", Status: 429, RetryAfter: 1})
	start := time.Now()
	if err := c.SendText(ctxT(t), u, conv, miaw.TextMessage{ID: "4e5f6071-8293-4dae-9fb0-2b3c4d5e6f70", Text: "x"}); err != nil {
		t.Fatalf("send after a 429: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("retried after %v, before Retry-After", d)
	}
	// A Retry-After beyond MaxRetryAfter fails at once with the status.
	_ = f.sim.InjectFault(miawsim.Fault{Kind: "message", Status: 429, RetryAfter: 3600})
	err := c.SendText(ctxT(t), u, conv, miaw.TextMessage{ID: "5f607182-93a4-4ebf-8a0c-3c4d5e6f7081", Text: "y"})
	var se *miaw.StatusError
	if !errors.As(err, &se) || se.StatusCode != 429 || se.RetryAfter != time.Hour || !miaw.Temporary(err) {
		t.Fatalf("long 429 = %v", err)
	}
	_ = f.sim.InjectFault(miawsim.Fault{Kind: "message", Status: 500, Message: "boom"})
	err = c.SendText(ctxT(t), u, conv, miaw.TextMessage{ID: "6071829a-a4b5-4fc0-9b1d-4d5e6f708192", Text: "z"})
	if !errors.Is(err, miaw.ErrServer) || !miaw.Temporary(err) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("500 = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	if _, err := miaw.NewClient(miaw.Config{}, nil); err == nil {
		t.Fatal("empty config accepted")
	}
	cfg := miaw.Config{URL: "x.my.salesforce-scrt.com", OrgID: testOrg, DeploymentName: "d", PrivateKey: "not a key", Issuer: "i"}
	if _, err := miaw.NewClient(cfg, nil); err == nil {
		t.Fatal("bad key accepted")
	}
	cfg.PrivateKey = pemOf(t, testECKey(t))
	cfg.Issuer = ""
	if _, err := miaw.NewClient(cfg, nil); err == nil {
		t.Fatal("key without issuer accepted")
	}
	cfg.Issuer = "i"
	c, err := miaw.NewClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Config(); got.URL != "https://x.my.salesforce-scrt.com" || got.CapabilitiesVersion != "1" || got.Platform != "Web" {
		t.Fatalf("defaults = %+v", got)
	}
	// A PEM with literal \n (one-line environment variables) is accepted.
	cfg.PrivateKey = strings.ReplaceAll(pemOf(t, testECKey(t)), "\n", `\n`)
	if _, err := miaw.NewClient(cfg, nil); err != nil {
		t.Fatalf("one-line PEM: %v", err)
	}
}

func TestConversationIDs(t *testing.T) {
	a, b := miaw.NewConversationID(), miaw.NewConversationID()
	if a == b || !a.Valid() {
		t.Fatalf("ids %q %q", a, b)
	}
	if _, err := miaw.ParseConversationID(strings.ToUpper(string(a))); err == nil {
		t.Fatal("uppercase id accepted")
	}
	if _, err := miaw.ParseConversationID("6b1d2c3e-4f50-1a1b-8c2d-3e4f5a6b7c8d"); err == nil {
		t.Fatal("version 1 id accepted")
	}
	if id, err := miaw.ParseConversationID(string(a)); err != nil || id != a {
		t.Fatalf("parse %q: %v", a, err)
	}
}
