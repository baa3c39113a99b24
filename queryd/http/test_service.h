// Test services that exist only as descriptors built at run time, so the
// gateway can be tested on annotations Weir's API does not use (bodies,
// path variables, other HTTP methods) without a .proto.
#ifndef WEIR_QUERYD_HTTP_TEST_SERVICE_H_
#define WEIR_QUERYD_HTTP_TEST_SERVICE_H_

#include <memory>
#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"

namespace weir::queryd::http::testing {

// A descriptor pool on top of the generated one (so files may import
// google/protobuf/timestamp.proto) with a factory for its messages.
class TestPool {
 public:
  TestPool();

  // Builds a file from a FileDescriptorProto in text format; CHECK-fails
  // on a malformed one (a broken test). Options may use
  // [google.api.http] { ... }.
  const google::protobuf::FileDescriptor* Add(const std::string& text);

  google::protobuf::MessageFactory* factory() { return &factory_; }
  const google::protobuf::DescriptorPool* pool() const { return &pool_; }

 private:
  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_;
};

// weir.test.Things, in test/things.proto:
//   message Inner { string note = 1; int32 count = 2; }
//   message GetThingRequest { string id = 1; string view = 2; Inner inner = 3;
//   } message Thing { string id = 1; string name = 2; Inner inner = 3;
//                   repeated int32 tags = 4; google.protobuf.Timestamp when =
//                   5; int64 big = 6; }
//   message ThingsRequest { int32 count = 1; string fail = 2; }
//   service Things {
//     rpc GetThing(GetThingRequest) returns (Thing)
//         { get: "/v1/things/{id}"
//           additional_bindings { get: "/v1/{id=shelves/*/things/*}" } }
//     rpc CreateThing(Thing) returns (Thing) { post: "/v1/things" body: "*" }
//     rpc UpdateInner(GetThingRequest) returns (Thing)
//         { patch: "/v1/things/{id}/inner" body: "inner" }
//     rpc DeleteThing(GetThingRequest) returns (Thing)
//         { delete: "/v1/things/{id}" }
//     rpc Fail(GetThingRequest) returns (Thing) { get: "/v1/fail/{view}" }
//     rpc WatchThings(ThingsRequest) returns (stream Thing)
//         { get: "/v1/things:watch" }
//     rpc Hidden(Thing) returns (Thing);  // no annotation: no route
//   }
// GetThingRequest and Thing share their first three fields' numbers and
// types, so a server may answer a GetThingRequest with its own bytes.
const google::protobuf::ServiceDescriptor* AddThingsService(TestPool& pool);

}  // namespace weir::queryd::http::testing

#endif  // WEIR_QUERYD_HTTP_TEST_SERVICE_H_
