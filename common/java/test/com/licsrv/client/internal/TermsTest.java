package com.licsrv.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.licsrv.client.Status;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pure decision on terms, as liblic's lic_terms_decide. */
class TermsTest {
  @Test
  void wildcardMatchesExactlyOneLabel() {
    assertTrue(Terms.domainMatch("*.example.org", "a.example.org"));
    assertTrue(Terms.domainMatch("*.example.org", "A.Example.ORG."));
    assertFalse(Terms.domainMatch("*.example.org", "a.b.example.org"));
    assertFalse(Terms.domainMatch("*.example.org", "example.org"));
    assertTrue(Terms.domainMatch("reports.example.com.", "reports.example.com"));
  }

  @Test
  void decisionOrderIsVersionDomainPortApp() {
    List<String> d = List.of("reports.example.com");
    List<Long> p = List.of(443L);
    List<String> a = List.of("sales");
    assertEquals(Status.VERSION_DENIED, Terms.decide("license", 11, d, p, a,
        new Terms.Ask("x.com", 1, null, -1)).status);
    assertEquals(Status.DOMAIN_DENIED, Terms.decide("license", 11, d, p, a,
        new Terms.Ask("x.com", 1, null, 11)).status);
    assertEquals(Status.PORT_DENIED, Terms.decide("license", 11, d, p, a,
        new Terms.Ask("reports.example.com", 1, null, 11)).status);
    assertEquals(Status.APP_DENIED, Terms.decide("license", 11, d, p, a,
        new Terms.Ask("reports.example.com", 443, null, 11)).status);
    assertEquals(Status.VALID, Terms.decide("license", 11, d, p, a,
        new Terms.Ask("reports.example.com", 443, "sales", 11)).status);
  }

  @Test
  void windowEndsAtExpiresItself() {
    assertEquals(Status.VALID, Terms.window("license", 100, 200, 199).status);
    assertEquals(Status.EXPIRED, Terms.window("license", 100, 200, 200).status);
    assertEquals(Status.NOT_YET_VALID, Terms.window("license", 100, 200, 99).status);
    assertEquals(Status.VALID, Terms.window("license", 100, 0, Long.MAX_VALUE).status);
  }

  @Test
  void majorIsTheLeadingNumber() {
    assertEquals(11, Terms.major("11.0.18"));
    assertEquals(11, Terms.major("11"));
    assertEquals(-1, Terms.major("v11"));
    assertEquals(-1, Terms.major(null));
  }
}
