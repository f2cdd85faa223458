# The bridge.v1 payload and Standard Webhooks signing (src/delivery/payload.cpp, signing.cpp):
# GoogleTest unit tests, and the schema test that validates rendered documents (a few messages
# and the shared corpora) against openapi/openapi.yaml with /usr/bin/python3 + python3-jsonschema.
smtp_bridge_unit_test(payload_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/payload_test.cpp ${CMAKE_CURRENT_SOURCE_DIR}/signing_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/payload_amplification_test.cpp
  LIBS delivery_payload mime common nlohmann_json::nlohmann_json OpenSSL::Crypto)
target_include_directories(payload_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
# Reply extraction (issue 15): the shared email_reply_parser corpus and per-client messages.
smtp_bridge_unit_test(reply_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/reply_text_test.cpp ${CMAKE_CURRENT_SOURCE_DIR}/reply_clients_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/reply_fast_test.cpp
  LIBS delivery_payload mime common)

set(SMTP_BRIDGE_SCHEMA_DIR ${PROJECT_SOURCE_DIR}/tests/schema)
add_executable(payload_dump ${SMTP_BRIDGE_SCHEMA_DIR}/payload_dump.cpp)
target_link_libraries(payload_dump PRIVATE delivery_payload common)
add_dependencies(payload_test payload_dump)  # building payload_test builds what the schema test runs
add_test(NAME schema_bridge_v1
  COMMAND /usr/bin/python3 ${SMTP_BRIDGE_SCHEMA_DIR}/test_bridge_schema.py
          --dump $<TARGET_FILE:payload_dump>
          --openapi ${PROJECT_SOURCE_DIR}/openapi/openapi.yaml
          --messages ${SMTP_BRIDGE_SCHEMA_DIR}/messages
          --corpora ${PROJECT_SOURCE_DIR}/../shared/corpora)
set_tests_properties(schema_bridge_v1 PROPERTIES TIMEOUT 120)

# Issue 11, amplification budget: one hostile message per fresh process (its peak RSS is its own),
# parsed and rendered once; fails when the document passes 2 × the size (+ attachments' base64 +
# the structure allowance) or the peak RSS growth passes 4 × the size + 16 MiB.
add_executable(payload_amplification ${PROJECT_SOURCE_DIR}/tests/tools/payload_amplification.cpp)
target_link_libraries(payload_amplification PRIVATE delivery_payload common nlohmann_json::nlohmann_json)
add_dependencies(payload_test payload_amplification)
foreach(case addresses:1400000 addresses:10485760 addresses:26214400 tscii_subject:26214400 tscii_filename:26214400
             control_subject:26214400 quoted_filename:26214400 tscii_body:26214400
             many_parts:10485760 deep_nesting:1048576 many_fields:10485760 references:10485760
             latin1_body:26214400 short_lines_body:26214400 utf8_body:26214400)
  string(REPLACE ":" ";" parts ${case})
  list(GET parts 0 shape)
  list(GET parts 1 bytes)
  add_test(NAME payload_amplification_${shape}_${bytes}
           COMMAND payload_amplification ${shape} ${bytes} --check)
  set_tests_properties(payload_amplification_${shape}_${bytes} PROPERTIES TIMEOUT 300)
endforeach()
