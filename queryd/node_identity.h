// Which node a collector may write as: the one its client certificate names.
//
// A node name matches a certificate when it equals one of the certificate's
// subject alternative names (DNS or URI entries, as gRPC lists them); the
// subject's common name is consulted only when the certificate has no SAN
// at all (as for TLS host names, RFC 6125). The certificate has been
// verified against --client-ca by then: the handshake fails otherwise.
//
// A fleet whose collectors share one certificate (a Kubernetes DaemonSet
// mounts one Secret on every node) names it with --shared-client-cert-name:
// a certificate holding that name (a SAN, or its CN without SAN) may write
// as any node. That authenticates "a collector of this fleet", not which
// node; per-node certificates and no shared name bind each node.
#ifndef WEIR_QUERYD_NODE_IDENTITY_H_
#define WEIR_QUERYD_NODE_IDENTITY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_context.h"

namespace weir::queryd {

// The names of a client's certificate.
struct PeerCertificate {
  bool presented = false;
  std::vector<std::string> subject_alt_names;
  std::string common_name;
};

// From a call's auth context (x509_* properties of gRPC's TLS handshake).
PeerCertificate PeerCertificateOf(const grpc::AuthContext& context);

// OK when `peer` may write batches of `node` (or, when `shared_name` is not
// empty, when it holds that name); UNAUTHENTICATED without a certificate,
// PERMISSION_DENIED naming the node and the certificate's names otherwise.
absl::Status CheckNodeIdentity(const PeerCertificate& peer,
                               absl::string_view node,
                               absl::string_view shared_name = "");

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_NODE_IDENTITY_H_
