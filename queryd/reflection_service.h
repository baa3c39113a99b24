// gRPC server reflection (grpc/doc/server-reflection.md), served by queryd
// itself in both versions clients use: grpc.reflection.v1 and the older
// grpc.reflection.v1alpha (the same messages under another package). Answers
// come from the generated descriptor pool, which holds every proto linked
// into queryd, health and reflection included, so each listed service can be
// described with all its dependencies.
#ifndef WEIR_QUERYD_REFLECTION_SERVICE_H_
#define WEIR_QUERYD_REFLECTION_SERVICE_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "google/protobuf/descriptor.h"
#include "grpc_contracts/reflection.grpc.pb.h"
#include "grpc_contracts/reflection_v1.grpc.pb.h"
#include "queryd/auth/authorizer.h"

namespace weir::queryd {

// `Proto` is the generated grpc.reflection.<version>.ServerReflection; its
// messages are Request and Response.
template <typename Proto, typename Request, typename Response>
class ReflectionService final : public Proto::CallbackService {
 public:
  // `services`: the fully qualified names list_services answers with.
  // `pool`: where descriptors are looked up (the generated pool in queryd).
  explicit ReflectionService(
      std::vector<std::string> services,
      const google::protobuf::DescriptorPool* pool =
          google::protobuf::DescriptorPool::generated_pool())
      : services_(std::move(services)), pool_(pool) {}

  // Checks every stream's bearer token (scope read: reflection describes
  // the read API); null (the default): no --token-file. Set before serving.
  void set_authorizer(auth::Authorizer* authorizer) {
    authorizer_ = authorizer;
  }

  // One answer per request, in order, until the client half-closes.
  grpc::ServerBidiReactor<Request, Response>* ServerReflectionInfo(
      grpc::CallbackServerContext* context) override;

  // The answer to one request. `sent`: files already sent on this stream;
  // a file's dependencies go out once per stream, the file asked for every
  // time. A name, symbol or type the pool lacks is an error_response of
  // NOT_FOUND; a request that asks nothing, INVALID_ARGUMENT.
  Response Answer(const Request& request,
                  absl::flat_hash_set<std::string>* sent) const;

 private:
  class Reactor;

  const std::vector<std::string> services_;
  const google::protobuf::DescriptorPool* const pool_;
  auth::Authorizer* authorizer_ = nullptr;
};

using ReflectionServiceV1 =
    ReflectionService<grpc::reflection::v1::ServerReflection,
                      grpc::reflection::v1::ServerReflectionRequest,
                      grpc::reflection::v1::ServerReflectionResponse>;
using ReflectionServiceV1Alpha =
    ReflectionService<grpc::reflection::v1alpha::ServerReflection,
                      grpc::reflection::v1alpha::ServerReflectionRequest,
                      grpc::reflection::v1alpha::ServerReflectionResponse>;

extern template class ReflectionService<
    grpc::reflection::v1::ServerReflection,
    grpc::reflection::v1::ServerReflectionRequest,
    grpc::reflection::v1::ServerReflectionResponse>;
extern template class ReflectionService<
    grpc::reflection::v1alpha::ServerReflection,
    grpc::reflection::v1alpha::ServerReflectionRequest,
    grpc::reflection::v1alpha::ServerReflectionResponse>;

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_REFLECTION_SERVICE_H_
