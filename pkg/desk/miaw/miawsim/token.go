package miawsim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

var b64 = base64.RawURLEncoding

// accessClaims are the claims of the simulator's access tokens.
type accessClaims struct {
	Subject  string `json:"sub"`
	ClientID string `json:"clientId"`
	OrgID    string `json:"orgId"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
	Epoch    int    `json:"epoch"`
	ID       string `json:"jti"`
}

// issue signs an access token (HS256). Called with s.mu held.
func (s *Sim) issue(subject string, exp time.Time) string {
	c := accessClaims{
		Subject: subject, ClientID: simkit.RandomUUID(), OrgID: s.opts.OrgID, IssuedAt: s.opts.Now().Unix(),
		Expiry: exp.Unix(), Epoch: s.epoch, ID: simkit.RandomUUID(),
	}
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	payload, _ := json.Marshal(c)
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(input))
	return input + "." + b64.EncodeToString(mac.Sum(nil))
}

// errToken is why a bearer token was refused.
var errToken = errors.New("invalid or expired access token")

// verify checks an access token. Called with s.mu held.
func (s *Sim) verify(token string) (accessClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return accessClaims{}, errToken
	}
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return accessClaims{}, errToken
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		return accessClaims{}, errToken
	}
	var c accessClaims
	if json.Unmarshal(raw, &c) != nil {
		return accessClaims{}, errToken
	}
	if c.Epoch != s.epoch || !s.opts.Now().Before(time.Unix(c.Expiry, 0)) {
		return accessClaims{}, fmt.Errorf("%w: token expired", errToken)
	}
	return c, nil
}

// bearer authenticates a customer request. Called with s.mu held. On failure it has
// answered 401.
func (s *Sim) bearer(w http.ResponseWriter, r *http.Request) (accessClaims, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		s.stats.Unauthorized++
		s.notifyStats()
		apiError(w, http.StatusUnauthorized, "Authorization header with a Bearer access token required")
		return accessClaims{}, false
	}
	c, err := s.verify(tok)
	if err != nil {
		s.stats.Unauthorized++
		s.notifyStats()
		apiError(w, http.StatusUnauthorized, err.Error())
		return accessClaims{}, false
	}
	return c, true
}

type tokenRequest struct {
	OrgID                 string          `json:"orgId"`
	ESDeveloperName       string          `json:"esDeveloperName"`
	CapabilitiesVersion   string          `json:"capabilitiesVersion"`
	Platform              string          `json:"platform"`
	DeviceID              string          `json:"deviceId"`
	Context               json.RawMessage `json:"context"`
	AuthorizationType     string          `json:"authorizationType"`
	CustomerIdentityToken string          `json:"customerIdentityToken"`
}

// readTokenRequest validates the common fields; on failure it has answered 400.
func (s *Sim) readTokenRequest(w http.ResponseWriter, r *http.Request) (tokenRequest, bool) {
	var in tokenRequest
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(b, &in) != nil {
		apiError(w, http.StatusBadRequest, "request body must be JSON")
		return in, false
	}
	switch {
	case in.OrgID == "":
		apiError(w, http.StatusBadRequest, "orgId is required")
	case s.opts.OrgID != "" && !sameOrg(in.OrgID, s.opts.OrgID):
		apiError(w, http.StatusBadRequest, "unknown orgId")
	case in.ESDeveloperName == "":
		apiError(w, http.StatusBadRequest, "esDeveloperName is required")
	case s.opts.DeploymentName != "" && in.ESDeveloperName != s.opts.DeploymentName:
		apiError(w, http.StatusBadRequest, "unknown esDeveloperName")
	case in.CapabilitiesVersion == "":
		apiError(w, http.StatusBadRequest, "capabilitiesVersion is required")
	case in.Platform == "":
		apiError(w, http.StatusBadRequest, "platform is required")
	default:
		return in, true
	}
	return in, false
}

func sameOrg(a, b string) bool {
	if len(a) >= 15 && len(b) >= 15 {
		return a[:15] == b[:15]
	}
	return a == b
}

// tokenResponse answers a token request. Called with s.mu held.
func (s *Sim) tokenResponse(w http.ResponseWriter, token, subject string) {
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"accessToken": token,
		"lastEventId": fmt.Sprint(s.nextEventID),
		"context": map[string]any{
			"deviceId": simkit.RandomUUID(),
			"endUser":  map[string]string{"subject": subject},
			"configuration": map[string]any{"embeddedServiceConfig": map[string]any{
				"name": s.opts.DeploymentName, "deploymentType": "api",
				"embeddedServiceMessagingChannel": map[string]string{"channelAddressIdentifier": "sim-channel", "authMode": "Auth"},
				"forms":                           []any{},
			}},
		},
	})
}

func (s *Sim) handleUnauthToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault(w, "token", "") {
		return
	}
	if _, ok := s.readTokenRequest(w, r); !ok {
		return
	}
	subject := "v2/iamessage/UNAUTH/NA/uid:" + simkit.RandomUUID()
	s.stats.TokensUnauthenticated++
	s.notifyStats()
	s.tokenResponse(w, s.issue(subject, s.opts.Now().Add(s.tokenLifetime)), subject)
}

func (s *Sim) handleAuthToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault(w, "token", "") {
		return
	}
	in, ok := s.readTokenRequest(w, r)
	if !ok {
		return
	}
	if len(s.opts.VerificationKeys) == 0 {
		apiError(w, http.StatusBadRequest, "User Verification is not enabled for this deployment")
		return
	}
	if in.AuthorizationType != "JWT" || in.CustomerIdentityToken == "" {
		apiError(w, http.StatusBadRequest, "authorizationType JWT and customerIdentityToken are required")
		return
	}
	var subject string
	sub, err := s.verifyIdentity(in.CustomerIdentityToken)
	if err != nil {
		// Salesforce answers 200 with an anonymous token when verification fails.
		s.stats.VerificationFailures++
		s.opts.Logger.Info("identity token rejected", "err", err)
		subject = "v2/iamessage/ANON/NA/uid:" + simkit.RandomUUID()
	} else {
		subject = "v2/iamessage/AUTH/" + s.opts.KeySet + "/uid:" + sub
		s.stats.TokensAuthenticated++
	}
	s.notifyStats()
	s.tokenResponse(w, s.issue(subject, s.opts.Now().Add(s.tokenLifetime)), subject)
}

func (s *Sim) handleContinuation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault(w, "token", "") {
		return
	}
	c, ok := s.bearer(w, r)
	if !ok {
		return
	}
	s.stats.TokensContinuation++
	s.notifyStats()
	// Same end user, new client id, same expiry.
	s.tokenResponse(w, s.issue(c.Subject, time.Unix(c.Expiry, 0)), c.Subject)
}

// verifyIdentity checks a customer identity JWT (RS256 or ES256) against the verification keys
// and returns its subject.
func (s *Sim) verifyIdentity(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("not a compact JWS")
	}
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return "", fmt.Errorf("bad base64url: %w", err)
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	if json.Unmarshal(hb, &header) != nil || json.Unmarshal(pb, &claims) != nil {
		return "", errors.New("bad JSON")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	verified := false
	for _, k := range s.opts.VerificationKeys {
		switch pub := k.(type) {
		case *rsa.PublicKey:
			verified = header.Alg == "RS256" && rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
		case *ecdsa.PublicKey:
			verified = header.Alg == "ES256" && len(sig) == 64 &&
				ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
		}
		if verified {
			break
		}
	}
	switch {
	case !verified:
		return "", fmt.Errorf("signature not verified (alg %s, kid %s)", header.Alg, header.Kid)
	case claims.Sub == "":
		return "", errors.New("no sub")
	case s.opts.Issuer != "" && claims.Iss != s.opts.Issuer:
		return "", fmt.Errorf("issuer %q", claims.Iss)
	case claims.Exp == 0 || !s.opts.Now().Before(time.Unix(claims.Exp, 0)):
		return "", errors.New("expired")
	}
	return claims.Sub, nil
}

// ExpireTokens makes every access token issued so far expired: the next call with one is
// answered 401, and event streams using one are closed at their next heartbeat.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	s.stats.TokenExpiries++
	s.notifyStats()
}
