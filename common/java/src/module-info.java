/**
 * The licsrv client for Java report servers and designers: verify against a license server,
 * check a local license or a designer activation, all with the JDK alone.
 */
module com.licsrv.client {
  requires java.net.http;
  exports com.licsrv.client;
}
