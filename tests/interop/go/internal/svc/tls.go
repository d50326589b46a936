package svc

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// certPool reads every PEM certificate of file into a new pool.
func certPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// ServerTLS is the tls.Config of a server with the PEM certificate and key files; with
// clientCA (a PEM file) it requires and verifies client certificates (mutual TLS).
// Returns nil, nil when cert is empty (no TLS).
func ServerTLS(cert, key, clientCA string) (*tls.Config, error) {
	if cert == "" {
		if key != "" || clientCA != "" {
			return nil, fmt.Errorf("-tls-key and -tls-client-ca need -tls-cert")
		}
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}}
	if clientCA != "" {
		pool, err := certPool(clientCA)
		if err != nil {
			return nil, fmt.Errorf("TLS client CA: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientTLS is the tls.Config of a client trusting the PEM CA file ca, presenting the PEM
// certificate and key files when given (mutual TLS), checking serverName when given (else
// the host dialed). Returns nil, nil when ca is empty (no TLS).
func ClientTLS(ca, cert, key, serverName string) (*tls.Config, error) {
	if ca == "" {
		if cert != "" || key != "" || serverName != "" {
			return nil, fmt.Errorf("-tls-cert, -tls-key and -tls-server-name need -tls-ca")
		}
		return nil, nil
	}
	pool, err := certPool(ca)
	if err != nil {
		return nil, fmt.Errorf("TLS CA: %w", err)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: serverName}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
