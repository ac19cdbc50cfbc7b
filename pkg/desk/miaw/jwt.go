package miaw

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

var b64 = base64.RawURLEncoding

// signer signs customer identity tokens (JWS compact, RS256 or ES256).
type signer struct {
	key crypto.Signer
	alg string
	kid string
}

// parsePrivateKey reads a PEM private key: PKCS #8, PKCS #1 (RSA) or SEC 1 (EC).
func parsePrivateKey(text string) (crypto.Signer, error) {
	text = strings.TrimSpace(text)
	if strings.Contains(text, `\n`) && !strings.Contains(text, "\n") {
		text = strings.ReplaceAll(text, `\n`, "\n")
	}
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("miaw: private key: no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("miaw: private key: unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("miaw: private key: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("miaw: private key: RSA key of %d bits; at least 2048 needed", k.N.BitLen())
		}
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("miaw: private key: EC keys must use P-256 (ES256)")
		}
		return k, nil
	}
	return nil, fmt.Errorf("miaw: private key: unsupported key type %T (RSA or EC P-256 needed)", key)
}

func newSigner(pemText, kid string) (*signer, error) {
	key, err := parsePrivateKey(pemText)
	if err != nil {
		return nil, err
	}
	s := &signer{key: key, alg: "RS256"}
	if _, ok := key.(*ecdsa.PrivateKey); ok {
		s.alg = "ES256"
	}
	if kid == "" {
		kid = thumbprint(key.Public())
	}
	s.kid = kid
	return s, nil
}

// identityClaims are the claims of a customer identity token.
type identityClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud,omitempty"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
	ID       string `json:"jti"`
}

// sign returns the compact JWS of claims.
func (s *signer) sign(claims any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": s.alg, "typ": "JWT", "kid": s.kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := s.key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		var r, ss *big.Int
		r, ss, err = ecdsa.Sign(rand.Reader, k, digest[:])
		if err == nil {
			sig = make([]byte, 64) // JWS: R || S, each 32 bytes big-endian
			r.FillBytes(sig[:32])
			ss.FillBytes(sig[32:])
		}
	default:
		err = fmt.Errorf("unsupported key %T", s.key)
	}
	if err != nil {
		return "", fmt.Errorf("miaw: sign identity token: %w", err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// identityToken returns a fresh customer identity token for subject.
func (s *signer) identityToken(cfg Config, subject string) (string, error) {
	now := cfg.Now()
	return s.sign(identityClaims{
		Issuer: cfg.Issuer, Subject: subject, Audience: cfg.Audience,
		IssuedAt: now.Unix(), Expiry: now.Add(cfg.IdentityTokenLifetime).Unix(), ID: newUUID(),
	})
}

// jwk is a public JSON Web Key (RFC 7517).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	// RSA
	N string `json:"n,omitempty"`
	E string `json:"e,omitempty"`
	// EC
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

func publicJWK(pub crypto.PublicKey) jwk {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", Alg: "RS256", N: b64.EncodeToString(k.N.Bytes()), E: b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		b, err := k.Bytes() // uncompressed: 0x04 || X || Y
		if err != nil || len(b) != 65 {
			return jwk{}
		}
		return jwk{Kty: "EC", Alg: "ES256", Crv: "P-256", X: b64.EncodeToString(b[1:33]), Y: b64.EncodeToString(b[33:])}
	}
	return jwk{}
}

// thumbprint is the RFC 7638 SHA-256 JWK thumbprint of pub.
func thumbprint(pub crypto.PublicKey) string {
	k := publicJWK(pub)
	var canon string
	switch k.Kty {
	case "RSA":
		canon = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, k.E, k.N)
	case "EC":
		canon = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, k.X, k.Y)
	default:
		return ""
	}
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:])
}

// PublicJWKS returns the JSON Web Key Set of the public half of a PEM private key, with the
// kid the client puts in its identity tokens (keyID, or the key's RFC 7638 thumbprint when
// empty). Upload it to the User Verification keyset of the messaging channel.
func PublicJWKS(privateKeyPEM, keyID string) ([]byte, error) {
	s, err := newSigner(privateKeyPEM, keyID)
	if err != nil {
		return nil, err
	}
	k := publicJWK(s.key.Public())
	k.Kid, k.Use = s.kid, "sig"
	return json.MarshalIndent(map[string][]jwk{"keys": {k}}, "", "  ")
}

// jwtClaims reads (without verifying) the claims of an access token that matter to the
// client: its subject and expiry.
type accessClaims struct {
	Subject string `json:"sub"`
	Expiry  int64  `json:"exp"`
}

func readAccessClaims(token string) (accessClaims, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return accessClaims{}, false
	}
	raw, err := b64.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return accessClaims{}, false
	}
	var c accessClaims
	if err := json.Unmarshal(raw, &c); err != nil {
		return accessClaims{}, false
	}
	return c, true
}

// tokenExpiry returns when an access token expires: its exp, or now+DefaultTokenLifetime.
func tokenExpiry(token string, now time.Time) time.Time {
	if c, ok := readAccessClaims(token); ok && c.Expiry > 0 {
		return time.Unix(c.Expiry, 0)
	}
	return now.Add(DefaultTokenLifetime)
}
