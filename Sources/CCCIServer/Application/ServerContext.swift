import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The request context of `ccci serve`'s routes: Hummingbird's, plus the connection — so that a
/// long response (a live log stream) can see its client go, and limits can count by client
/// address.
public struct ServerContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    public var remoteAddress: SocketAddress? { channel.remoteAddress }

    /// The client's address, for per-client limits (`unknown` in router tests).
    public var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }

    /// The connection's watch, when the server installed one (not in router tests).
    func connectionWatch() async -> ConnectionWatch? {
        try? await channel.pipeline.handler(type: ConnectionWatch.self).get()
    }
}

/// One per connection, in the pipeline after the HTTP decoder: it knows when the client has gone
/// (its end of the connection closed, or the connection is gone) — which a response that only
/// writes now and then cannot see until a write fails — and it closes a connection whose first
/// request head has not arrived within ``headerTimeout`` (a client that trickles its headers
/// holds a connection for nothing).
///
/// `@unchecked Sendable`: the handler's NIO methods run on its event loop; the state other
/// threads read is one atomic flag.
final class ConnectionWatch: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let headerTimeout: TimeAmount
    private let gone = Atomic<Bool>(false)
    private var headerTimer: Scheduled<Void>?

    init(headerTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
    }

    /// Whether the client closed its end or the connection is gone.
    var clientGone: Bool { gone.load(ordering: .acquiring) }

    func handlerAdded(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        startHeaderTimer(context)
    }

    func channelActive(context: ChannelHandlerContext) {
        startHeaderTimer(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            headerTimer?.cancel()
            headerTimer = nil
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        gone.store(true, ordering: .releasing)
        headerTimer?.cancel()
        headerTimer = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            gone.store(true, ordering: .releasing)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func startHeaderTimer(_ context: ChannelHandlerContext) {
        guard headerTimer == nil else { return }
        let channel = context.channel
        headerTimer = context.eventLoop.scheduleTask(in: headerTimeout) {
            channel.close(promise: nil)
        }
    }
}
