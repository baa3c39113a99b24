#include "queryd/http/test_service.h"

#include <cstdio>
#include <cstdlib>

#include "google/api/annotations.pb.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/text_format.h"

namespace weir::queryd::http::testing {

TestPool::TestPool()
    : pool_(google::protobuf::DescriptorPool::generated_pool()),
      factory_(&pool_) {
  // The annotations must be linked for their extension to be parsed in the
  // options below.
  (void)google::api::http;
}

const google::protobuf::FileDescriptor* TestPool::Add(const std::string& text) {
  google::protobuf::FileDescriptorProto file;
  if (!google::protobuf::TextFormat::ParseFromString(text, &file)) {
    std::fprintf(stderr, "test descriptor does not parse:\n%s\n", text.c_str());
    std::abort();
  }
  const google::protobuf::FileDescriptor* built = pool_.BuildFile(file);
  if (built == nullptr) {
    std::fprintf(stderr, "test descriptor does not build:\n%s\n", text.c_str());
    std::abort();
  }
  return built;
}

const google::protobuf::ServiceDescriptor* AddThingsService(TestPool& pool) {
  const google::protobuf::FileDescriptor* file = pool.Add(R"pb(
    name: "test/things.proto"
    package: "weir.test"
    syntax: "proto3"
    dependency: "google/protobuf/timestamp.proto"
    message_type {
      name: "Inner"
      field {
        name: "note"
        number: 1
        type: TYPE_STRING
        label: LABEL_OPTIONAL
        json_name: "note"
      }
      field {
        name: "count"
        number: 2
        type: TYPE_INT32
        label: LABEL_OPTIONAL
        json_name: "count"
      }
    }
    message_type {
      name: "GetThingRequest"
      field {
        name: "id"
        number: 1
        type: TYPE_STRING
        label: LABEL_OPTIONAL
        json_name: "id"
      }
      field {
        name: "view"
        number: 2
        type: TYPE_STRING
        label: LABEL_OPTIONAL
        json_name: "view"
      }
      field {
        name: "inner"
        number: 3
        type: TYPE_MESSAGE
        type_name: ".weir.test.Inner"
        label: LABEL_OPTIONAL
        json_name: "inner"
      }
    }
    message_type {
      name: "Thing"
      field {
        name: "id"
        number: 1
        type: TYPE_STRING
        label: LABEL_OPTIONAL
        json_name: "id"
      }
      field {
        name: "name"
        number: 2
        type: TYPE_STRING
        label: LABEL_OPTIONAL
        json_name: "name"
      }
      field {
        name: "inner"
        number: 3
        type: TYPE_MESSAGE
        type_name: ".weir.test.Inner"
        label: LABEL_OPTIONAL
        json_name: "inner"
      }
      field {
        name: "tags"
        number: 4
        type: TYPE_INT32
        label: LABEL_REPEATED
        json_name: "tags"
      }
      field {
        name: "when"
        number: 5
        type: TYPE_MESSAGE
        type_name: ".google.protobuf.Timestamp"
        label: LABEL_OPTIONAL
        json_name: "when"
      }
      field {
        name: "big"
        number: 6
        type: TYPE_INT64
        label: LABEL_OPTIONAL
        json_name: "big"
      }
    }
    message_type {
      name: "ThingsRequest"
      field {
        name: "count"
        number: 1
        type: TYPE_INT32
        label: LABEL_OPTIONAL
        json_name: "count"
      }
      field {
        name: "fail"
        number: 2
        type: TYPE_STRING
        label: LABEL_OPTIONAL
        json_name: "fail"
      }
    }
    service {
      name: "Things"
      method {
        name: "GetThing"
        input_type: ".weir.test.GetThingRequest"
        output_type: ".weir.test.Thing"
        options {
          [google.api.http] {
            get: "/v1/things/{id}"
            additional_bindings { get: "/v1/{id=shelves/*/things/*}" }
          }
        }
      }
      method {
        name: "CreateThing"
        input_type: ".weir.test.Thing"
        output_type: ".weir.test.Thing"
        options {
          [google.api.http] { post: "/v1/things" body: "*" }
        }
      }
      method {
        name: "UpdateInner"
        input_type: ".weir.test.GetThingRequest"
        output_type: ".weir.test.Thing"
        options {
          [google.api.http] { patch: "/v1/things/{id}/inner" body: "inner" }
        }
      }
      method {
        name: "DeleteThing"
        input_type: ".weir.test.GetThingRequest"
        output_type: ".weir.test.Thing"
        options {
          [google.api.http] { delete: "/v1/things/{id}" }
        }
      }
      method {
        name: "Fail"
        input_type: ".weir.test.GetThingRequest"
        output_type: ".weir.test.Thing"
        options {
          [google.api.http] { get: "/v1/fail/{view}" }
        }
      }
      method {
        name: "WatchThings"
        input_type: ".weir.test.ThingsRequest"
        output_type: ".weir.test.Thing"
        server_streaming: true
        options {
          [google.api.http] { get: "/v1/things:watch" }
        }
      }
      method {
        name: "Hidden"
        input_type: ".weir.test.Thing"
        output_type: ".weir.test.Thing"
      }
    }
  )pb");
  return file->service(0);
}

}  // namespace weir::queryd::http::testing
