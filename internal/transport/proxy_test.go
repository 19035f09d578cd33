package transport_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/typecache/typecache/internal/testkit/redistest"
	"github.com/typecache/typecache/internal/transport"
)

// TestDirectIdleConnectionGivenUp: a proxy in front of Redis gives up
// every idle connection of the direct client, as a proxy does when it
// shuts down, without closing them yet: with a parting error, or over TLS
// with close_notify. The next write must go on a new connection, succeed,
// and run once: not be sent on a given-up connection and return the
// parting error (or EOF) as its reply although Redis may have run it.
func TestDirectIdleConnectionGivenUp(t *testing.T) {
	redistest.Run(t, func(t *testing.T, srv *redistest.Server) {
		for _, tc := range []struct {
			name string
			tls  bool
		}{{"parting error", false}, {"TLS close_notify", true}} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				proxy := newGivingUpProxy(t, tc.tls)
				opt := srv.Option()
				opt.DialCtxFn = proxy.dial
				opt.TLSConfig = proxy.clientTLS // nil without TLS
				// One address to start from: a cluster client dials all it
				// is given at once and returns after the first, so the others
				// could be dialed after spareDialed below.
				opt.InitAddress = opt.InitAddress[:1]
				direct, err := transport.NewDirectClient(opt)
				if err != nil {
					t.Fatal(err)
				}
				defer direct.Close()
				// From here on the client dials its pooled connections, on
				// which a lone Do goes. The connections rueidis dialed while
				// it started pipeline, reading in the background, and
				// rueidis takes an unsolicited reply there for a protocol
				// bug (it panics): spare them.
				proxy.spareDialed()
				key := redistest.Prefix(t) + "k"
				if err := direct.Do(ctx, direct.B().Set().Key(key).Value("v0").Build()).Error(); err != nil {
					t.Fatal(err)
				}
				proxy.giveUp(t)
				got, err := direct.Do(ctx, direct.B().Set().Key(key).Value("v1").Get().Build()).ToString()
				if err != nil || got != "v0" {
					t.Fatalf("SET ... GET after the proxy gave up the connections = %q, %v; want v0 (sent once, on a new connection)", got, err)
				}
			})
		}
	})
}

// givingUpProxy forwards each connection a client dials through it to the
// address the client asked for, terminating TLS when it has a
// certificate, and gives up the client-facing sides on request.
type givingUpProxy struct {
	serverTLS, clientTLS *tls.Config // nil without TLS

	mu     sync.Mutex
	fronts []net.Conn // the client-facing sides
	spared int        // how many of fronts giveUp leaves alone
	closed []io.Closer
	pumps  sync.WaitGroup
}

func newGivingUpProxy(t *testing.T, withTLS bool) *givingUpProxy {
	p := &givingUpProxy{}
	if withTLS {
		p.serverTLS, p.clientTLS = testTLSConfigs(t)
	}
	t.Cleanup(func() {
		p.mu.Lock()
		for _, c := range p.closed {
			c.Close()
		}
		p.mu.Unlock()
		p.pumps.Wait()
	})
	return p
}

// dial is a ClientOption.DialCtxFn: it connects to the proxy, which
// connects to dst.
func (p *givingUpProxy) dial(ctx context.Context, dst string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	client, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	front, err := ln.Accept()
	if err != nil {
		client.Close()
		return nil, err
	}
	upstream, err := d.DialContext(ctx, "tcp", dst)
	if err != nil {
		client.Close()
		front.Close()
		return nil, err
	}
	if p.serverTLS != nil {
		front = tls.Server(front, p.serverTLS)
	}
	p.mu.Lock()
	p.fronts = append(p.fronts, front)
	p.closed = append(p.closed, client, front, upstream)
	p.mu.Unlock()
	for _, pipe := range [][2]net.Conn{{upstream, front}, {front, upstream}} {
		p.pumps.Go(func() {
			io.Copy(pipe[0], pipe[1])
			pipe[0].Close()
			pipe[1].Close()
		})
	}
	if cfg == nil {
		return client, nil
	}
	tlsClient := tls.Client(client, cfg)
	if err := tlsClient.HandshakeContext(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return tlsClient, nil
}

// spareDialed makes giveUp leave alone the connections dialed so far.
func (p *givingUpProxy) spareDialed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spared = len(p.fronts)
}

// giveUp gives up every client-facing side not spared, without closing it: a TLS one
// says close_notify, a plain one sends a parting error. It returns once
// they are all on their way.
func (p *givingUpProxy) giveUp(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, front := range p.fronts[p.spared:] {
		var err error
		if tlsFront, ok := front.(*tls.Conn); ok {
			err = tlsFront.CloseWrite()
		} else {
			_, err = front.Write([]byte("-ERR proxy shutting down\r\n"))
		}
		if err != nil {
			t.Logf("giving up a connection: %v (already closed)", err)
		}
	}
}

// testTLSConfigs returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1 and localhost, and a client one that trusts
// it.
func testTLSConfigs(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "typecache test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return server, &tls.Config{RootCAs: roots, ServerName: "localhost"}
}
