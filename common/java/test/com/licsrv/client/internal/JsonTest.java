package com.licsrv.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** --json output as the C tools print it (jansson: indent 2, sorted keys). */
class JsonTest {
  @Test
  void nestedSortedIndentedLikeJansson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("z", List.of("a", "b"));
    m.put("a", Map.of("max", 3L, "used", 1L));
    m.put("e", List.of());
    m.put("n", null);
    m.put("t", true);
    assertEquals("{\n  \"a\": {\n    \"max\": 3,\n    \"used\": 1\n  },\n  \"e\": [],\n"
        + "  \"n\": null,\n  \"t\": true,\n  \"z\": [\n    \"a\",\n    \"b\"\n  ]\n}", Json.write(m));
  }

  @Test
  void stringsAreEscaped() {
    assertEquals("\"q\\\"b\\\\n\\n\\u0001é/\"", Json.write("q\"b\\n\n\u0001é/"));
  }
}
