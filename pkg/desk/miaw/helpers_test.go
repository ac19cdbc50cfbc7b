package miaw_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/miaw"
	"github.com/line-sf-bridge/bridge/pkg/desk/miaw/miawsim"
)

const (
	testOrg        = "00D000000000001AAA"
	testDeployment = "LINE_Bridge"
	testIssuer     = "line-bridge-test"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSAKey is one 2048-bit key for the whole test binary (generating is slow).
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func testECKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(t testing.TB, key crypto.Signer) string {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func testLogger() *slog.Logger {
	if os.Getenv("TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// fixture is a simulator behind an httptest server.
type fixture struct {
	t   *testing.T
	sim *miawsim.Sim
	srv *httptest.Server
	key crypto.Signer
}

type fixtureOpt func(*miawsim.Options)

func newFixture(t *testing.T, opts ...fixtureOpt) *fixture {
	t.Helper()
	key := testRSAKey(t)
	o := miawsim.Options{
		OrgID: testOrg, DeploymentName: testDeployment, Issuer: testIssuer,
		VerificationKeys: []crypto.PublicKey{key.Public()}, HeartbeatInterval: 50 * time.Millisecond,
	}
	for _, f := range opts {
		f(&o)
	}
	sim := miawsim.New(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { _ = sim.Close(); srv.CloseClientConnections(); srv.Close() })
	return &fixture{t: t, sim: sim, srv: srv, key: key}
}

// config returns a client config for the fixture; authenticated with the fixture's key unless
// guest.
func (f *fixture) config(guest bool) miaw.Config {
	c := miaw.Config{
		URL: f.srv.URL, OrgID: testOrg, DeploymentName: testDeployment, Issuer: testIssuer,
		RequestTimeout: 5 * time.Second, SilenceTimeout: time.Second,
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
	}
	if !guest {
		c.PrivateKey = pemOf(f.t, f.key)
	}
	return c
}

func (f *fixture) client(guest bool) *miaw.Client {
	f.t.Helper()
	return f.clientWith(f.config(guest))
}

func (f *fixture) clientWith(cfg miaw.Config) *miaw.Client {
	f.t.Helper()
	c, err := miaw.NewClient(cfg, f.srv.Client())
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitConv waits for the simulator's conversation id to satisfy cond.
func (f *fixture) waitConv(id, what string, cond func(miawsim.ConversationView) bool) miawsim.ConversationView {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := f.sim.WaitConversation(ctx, id, cond)
	if err != nil {
		f.t.Fatalf("waiting for %s: %v (conversation %+v)", what, err, v)
	}
	return v
}

func (f *fixture) waitStats(what string, cond func(miawsim.Stats) bool) miawsim.Stats {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := f.sim.WaitStats(ctx, cond)
	if err != nil {
		f.t.Fatalf("waiting for %s: %v (stats %+v)", what, err, st)
	}
	return st
}

// lastConv returns the newest conversation.
func (f *fixture) lastConv() miawsim.ConversationView {
	f.t.Helper()
	cs := f.sim.Conversations()
	if len(cs) == 0 {
		f.t.Fatal("no conversation in the simulator")
	}
	return cs[len(cs)-1]
}
