#include "queryd/node_identity.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/grpc_security_constants.h"

namespace weir::queryd {

PeerCertificate PeerCertificateOf(const grpc::AuthContext& context) {
  PeerCertificate peer;
  peer.presented =
      !context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME).empty();
  for (const grpc::string_ref& san :
       context.FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME)) {
    peer.subject_alt_names.emplace_back(san.data(), san.size());
  }
  for (const grpc::string_ref& cn :
       context.FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
    peer.common_name.assign(cn.data(), cn.size());
  }
  return peer;
}

namespace {

// Whether the certificate names `name`: a SAN, or its CN when it has none.
bool Holds(const PeerCertificate& peer, absl::string_view name) {
  if (name.empty()) return false;
  if (!peer.subject_alt_names.empty()) {
    return std::find(peer.subject_alt_names.begin(),
                     peer.subject_alt_names.end(),
                     name) != peer.subject_alt_names.end();
  }
  return peer.common_name == name;
}

}  // namespace

absl::Status CheckNodeIdentity(const PeerCertificate& peer,
                               absl::string_view node,
                               absl::string_view shared_name) {
  if (!peer.presented) {
    return absl::UnauthenticatedError(
        "IngestService needs a client certificate issued by queryd's "
        "--client-ca; the connection presented none");
  }
  if (Holds(peer, shared_name)) return absl::OkStatus();
  if (!peer.subject_alt_names.empty()) {
    if (std::find(peer.subject_alt_names.begin(), peer.subject_alt_names.end(),
                  node) != peer.subject_alt_names.end()) {
      return absl::OkStatus();
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "batch of node \"", node,
        "\" refused: the client certificate's "
        "subject alternative names are ",
        absl::StrJoin(peer.subject_alt_names, ", "),
        "; a collector writes only under a node name its certificate holds"));
  }
  if (!peer.common_name.empty() && peer.common_name == node) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "batch of node \"", node,
      "\" refused: the client certificate has no "
      "subject alternative name and its common name is \"",
      peer.common_name,
      "\"; a collector writes only under a node name its certificate holds"));
}

}  // namespace weir::queryd
