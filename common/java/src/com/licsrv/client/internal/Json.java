package com.licsrv.client.internal;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * JSON text as the C tools print it (jansson, indent 2, sorted keys), for --json output.
 * Values: null, Boolean, Number, String, List, Map. Stateless.
 */
public final class Json {
  private Json() {}

  public static String write(Object v) {
    StringBuilder sb = new StringBuilder();
    write(sb, v, 0);
    return sb.toString();
  }

  private static void indent(StringBuilder sb, int n) {
    sb.append('\n');
    for (int i = 0; i < n; i++) {
      sb.append(' ');
    }
  }

  private static void write(StringBuilder sb, Object v, int depth) {
    if (v == null) {
      sb.append("null");
    } else if (v instanceof Boolean || v instanceof Number) {
      sb.append(v);
    } else if (v instanceof String) {
      string(sb, (String) v);
    } else if (v instanceof List) {
      List<?> l = (List<?>) v;
      if (l.isEmpty()) {
        sb.append("[]");
        return;
      }
      sb.append('[');
      for (int i = 0; i < l.size(); i++) {
        indent(sb, 2 * depth + 2);
        write(sb, l.get(i), depth + 1);
        if (i + 1 < l.size()) {
          sb.append(',');
        }
      }
      indent(sb, 2 * depth);
      sb.append(']');
    } else if (v instanceof Map) {
      Map<?, ?> m = new TreeMap<>((Map<?, ?>) v);
      if (m.isEmpty()) {
        sb.append("{}");
        return;
      }
      sb.append('{');
      int i = 0;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        indent(sb, 2 * depth + 2);
        string(sb, (String) e.getKey());
        sb.append(": ");
        write(sb, e.getValue(), depth + 1);
        if (++i < m.size()) {
          sb.append(',');
        }
      }
      indent(sb, 2 * depth);
      sb.append('}');
    } else {
      throw new IllegalArgumentException("not a JSON value: " + v.getClass());
    }
  }

  private static void string(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\n': sb.append("\\n"); break;
        case '\r': sb.append("\\r"); break;
        case '\t': sb.append("\\t"); break;
        case '\b': sb.append("\\b"); break;
        case '\f': sb.append("\\f"); break;
        default:
          if (c < 0x20) {
            sb.append(String.format("\\u%04X", (int) c));
          } else {
            sb.append(c);
          }
      }
    }
    sb.append('"');
  }
}
