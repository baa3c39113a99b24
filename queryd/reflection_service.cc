#include "queryd/reflection_service.h"

#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.pb.h"

namespace weir::queryd {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;

// Adds `file` to `out`, then each of its dependencies, transitively, that
// is not in `sent` yet; records what went out in `sent`.
template <typename FileDescriptorResponse>
void AddFile(const FileDescriptor* file, absl::flat_hash_set<std::string>* sent,
             FileDescriptorResponse* out) {
  sent->insert(file->name());
  std::deque<const FileDescriptor*> todo = {file};
  while (!todo.empty()) {
    const FileDescriptor* next = todo.front();
    todo.pop_front();
    google::protobuf::FileDescriptorProto proto;
    next->CopyTo(&proto);
    proto.SerializeToString(out->add_file_descriptor_proto());
    for (int i = 0; i < next->dependency_count(); ++i) {
      const FileDescriptor* dependency = next->dependency(i);
      if (sent->insert(dependency->name()).second) {
        todo.push_back(dependency);
      }
    }
  }
}

template <typename Response>
void SetError(grpc::StatusCode code, std::string message, Response* response) {
  response->mutable_error_response()->set_error_code(code);
  response->mutable_error_response()->set_error_message(std::move(message));
}

// Answers with `file` and its dependencies not sent yet, or NOT_FOUND
// naming the `what` that was asked for (`name`) when there is none.
template <typename Response>
void AnswerWithFile(const FileDescriptor* file, absl::string_view what,
                    absl::string_view name,
                    absl::flat_hash_set<std::string>* sent,
                    Response* response) {
  if (file == nullptr) {
    SetError(grpc::StatusCode::NOT_FOUND,
             absl::StrCat(what, " not found: ", name), response);
    return;
  }
  AddFile(file, sent, response->mutable_file_descriptor_response());
}

}  // namespace

template <typename Proto, typename Request, typename Response>
Response ReflectionService<Proto, Request, Response>::Answer(
    const Request& request, absl::flat_hash_set<std::string>* sent) const {
  Response response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  switch (request.message_request_case()) {
    case Request::kFileByFilename:
      AnswerWithFile(pool_->FindFileByName(request.file_by_filename()), "file",
                     request.file_by_filename(), sent, &response);
      break;
    case Request::kFileContainingSymbol:
      AnswerWithFile(
          pool_->FindFileContainingSymbol(request.file_containing_symbol()),
          "symbol", request.file_containing_symbol(), sent, &response);
      break;
    case Request::kFileContainingExtension: {
      const auto& extension = request.file_containing_extension();
      const Descriptor* type =
          pool_->FindMessageTypeByName(extension.containing_type());
      const FieldDescriptor* field =
          type == nullptr ? nullptr
                          : pool_->FindExtensionByNumber(
                                type, extension.extension_number());
      AnswerWithFile(field == nullptr ? nullptr : field->file(), "extension",
                     absl::StrCat(extension.containing_type(), " number ",
                                  extension.extension_number()),
                     sent, &response);
      break;
    }
    case Request::kAllExtensionNumbersOfType: {
      const Descriptor* type =
          pool_->FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (type == nullptr) {
        SetError(grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("type not found: ",
                              request.all_extension_numbers_of_type()),
                 &response);
        break;
      }
      std::vector<const FieldDescriptor*> extensions;
      pool_->FindAllExtensions(type, &extensions);
      auto* numbers = response.mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const FieldDescriptor* field : extensions) {
        numbers->add_extension_number(field->number());
      }
      break;
    }
    case Request::kListServices:
      for (const std::string& service : services_) {
        response.mutable_list_services_response()->add_service()->set_name(
            service);
      }
      break;
    case Request::MESSAGE_REQUEST_NOT_SET:
      SetError(grpc::StatusCode::INVALID_ARGUMENT,
               "message_request: no question asked (set file_by_filename, "
               "file_containing_symbol, file_containing_extension, "
               "all_extension_numbers_of_type or list_services)",
               &response);
      break;
  }
  return response;
}

// One stream: reads a request, writes its answer, reads the next, so at
// most one operation is in flight and the one that fails (the client
// half-closed, cancelled or went away) finishes the call, exactly once.
template <typename Proto, typename Request, typename Response>
class ReflectionService<Proto, Request, Response>::Reactor final
    : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit Reactor(const ReflectionService& service) : service_(service) {
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // half-closed (or cancelled): every request is answered
      this->Finish(grpc::Status::OK);
      return;
    }
    response_ = service_.Answer(request_, &sent_);
    this->StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(
          grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    this->StartRead(&request_);
  }

  // The read or write in flight fails and finishes the call.
  void OnCancel() override {}

  void OnDone() override { delete this; }

 private:
  const ReflectionService& service_;
  Request request_;
  Response response_;
  absl::flat_hash_set<std::string> sent_;
};

template <typename Proto, typename Request, typename Response>
grpc::ServerBidiReactor<Request, Response>*
ReflectionService<Proto, Request, Response>::ServerReflectionInfo(
    grpc::CallbackServerContext* context) {
  if (const grpc::Status allowed =
          auth::AuthorizeCall(authorizer_, *context, auth::Scope::kRead);
      !allowed.ok()) {
    return new auth::RefusedBidiStream<Request, Response>(allowed);
  }
  return new Reactor(*this);
}

template class ReflectionService<
    grpc::reflection::v1::ServerReflection,
    grpc::reflection::v1::ServerReflectionRequest,
    grpc::reflection::v1::ServerReflectionResponse>;
template class ReflectionService<
    grpc::reflection::v1alpha::ServerReflection,
    grpc::reflection::v1alpha::ServerReflectionRequest,
    grpc::reflection::v1alpha::ServerReflectionResponse>;

}  // namespace weir::queryd
