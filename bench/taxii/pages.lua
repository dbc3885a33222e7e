-- wrk script: GET the pre-computed page URLs in turn (BENCH_URLS, one path per line),
-- with the bearer token in BENCH_TOKEN when set. Each thread starts at its own offset.
local urls = {}
for line in io.lines(os.getenv("BENCH_URLS")) do
  if #line > 0 then urls[#urls + 1] = line end
end
local token = os.getenv("BENCH_TOKEN") or ""
local threads = 0
function setup(thread)
  thread:set("offset", threads * 131)
  threads = threads + 1
end
local i = 0
function init(args)
  i = offset or 0
end
function request()
  i = i + 1
  local headers = { ["Accept"] = "application/taxii+json;version=2.1" }
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", urls[(i % #urls) + 1], headers)
end
