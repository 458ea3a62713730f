import EnvSpec

/// observe → plan → execute for one environment, recording what it does through `records`.
public struct Reconciler: Sendable {
    public var engine: any ContainerEngine
    public var records: any ReconcileRecords
    public var host: any HostAccess

    public init(engine: any ContainerEngine, records: any ReconcileRecords, host: any HostAccess) {
        self.engine = engine
        self.records = records
        self.host = host
    }

    public func desiredState(_ revision: StoredRevision, locks: [String: ImageLock] = [:]) throws -> DesiredState {
        let projectDirectory = revision.summary.projectDirectory ?? host.workingDirectory
        return try DesiredState.resolve(spec: revision.spec, revision: revision.summary.number, projectDirectory: projectDirectory,
                                        readSecret: { try host.readSecret($0, projectDirectory: projectDirectory) },
                                        contextHash: { try host.contextHash($0, dockerfile: $1) }, locks: locks,
                                        secretKey: try records.secretLabelKey(), serviceHashes: revision.serviceHashes)
    }

    /// The digests the desired state's registry images resolve to on this engine now.
    public func currentLocks(_ desired: DesiredState) async -> [String: ImageLock] {
        var out: [String: ImageLock] = [:]
        // One inspect per image, not per service: sixty services on one image ask once.
        var digests: [String: String?] = [:]
        for (service, reference) in desired.pulledImages.sorted(by: { $0.key < $1.key }) {
            let running = desired.workloads[service]?.image ?? reference
            if digests[running] == nil { digests[running] = .some(try? await engine.imageDigest(running)) }
            if let digest = digests[running] ?? nil { out[service] = ImageLock(reference: reference, digest: digest) }
        }
        return out
    }

    /// Everything the planner needs, gathered here: the engine's objects, and which of the host
    /// ports the desired state publishes are taken by something other than our own containers.
    public func observe(_ desired: DesiredState) async throws -> ObservedState {
        var observed = try await engine.observe(environment: desired.environment, containerNames: desired.workloads.values.map(\.name).sorted(),
                                                images: desired.imageReferences, networkNames: desired.networkNamesToCheck)
        if let remote = engine.remoteHost {
            // This machine's ports say nothing about the engine's machine, whose own refusal of a
            // taken port is the check; its bind sources are looked up there.
            observed.remoteHost = remote
            let sources = Planner.bindSourcesToCheck(desired: desired)
            if !sources.isEmpty, let image = desired.workloads.values.map(\.image).sorted().first(where: { observed.images[$0] != nil }) {
                observed.missingBindSources = await engine.missingBindSources(sources, image: image)
            }
            return observed
        }
        observed.busyHostPorts = Set(Planner.hostPortsToProbe(desired: desired, observed: observed)
            .filter { !host.isPortFree(hostIP: $0.hostIP, port: $0.port, proto: $0.proto) })
        return observed
    }

    public func plan(_ desired: DesiredState, observed: ObservedState) throws -> Plan {
        let known = try records.recordedServiceSpecs(hashes: observed.containers.compactMap(\.specHash))
        return Planner.plan(Planner.Inputs(desired: desired, observed: observed, knownSpecs: known))
    }

    public struct Outcome: Sendable {
        public var plan: Plan
        public var report: ExecutionReport
        /// The resolved desired state, for work that follows (seeds) without resolving it again.
        public var desired: DesiredState?
        public var converged: Bool { plan.problems.isEmpty && report.succeeded }
    }

    /// Converges the engine to `revision`. A plan with problems is not started at all.
    /// `only`: converge these services (with their dependencies already folded in) and leave the
    /// rest as they are; the revision is then not recorded as applied.
    public func apply(_ revision: StoredRevision, executor: Executor, only: Set<String>? = nil, locks: [String: ImageLock] = [:]) async throws -> Outcome {
        try await converge(try desiredState(revision, locks: locks), executor: executor, only: only)
    }

    public func converge(_ full: DesiredState, executor: Executor, only: Set<String>? = nil) async throws -> Outcome {
        let desired = only.map { full.restricted(to: $0) } ?? full
        var observed = try await observe(desired)
        if let only { observed.containers.removeAll { !($0.service.map(only.contains) ?? false) } }
        let plan = try plan(desired, observed: observed)
        guard plan.problems.isEmpty else { return Outcome(plan: plan, report: ExecutionReport(), desired: full) }
        if only != nil {
            return Outcome(plan: plan, report: await executor.run(plan, revision: desired.revision), desired: full)
        }
        if plan.isEmpty {
            // Nothing to do, but a new revision that matches what runs is now what is applied.
            try records.markConverged(environment: desired.environment, revision: desired.revision)
            return Outcome(plan: plan, report: ExecutionReport(), desired: desired)
        }
        let applyID = try records.applyStarted(environment: desired.environment, revision: desired.revision)
        let report = await executor.run(plan, revision: desired.revision)
        // The images now behind each service, for reproducibility: what ran before, and for each
        // new container the image observed before it was made. Only a pull or a build can have
        // changed an image under its name, and only then is the engine asked again.
        var images: [String: String] = [:]
        for c in observed.containers { if let s = c.service, desired.workloads[s] != nil { images[s] = c.imageID } }
        let imagesChanged = plan.steps.contains { $0.action.changesImages }
        if imagesChanged, let after = try? await observe(desired) {
            for c in after.containers { if let s = c.service { images[s] = c.imageID } }
        } else {
            for step in plan.steps {
                guard let service = step.service, let workload = desired.workloads[service] else { continue }
                switch step.action {
                case .create, .recreate: if let id = observed.images[workload.image] { images[service] = id }
                default: break
                }
            }
        }
        try records.applyFinished(id: applyID, converged: report.succeeded, images: images)
        return Outcome(plan: plan, report: report, desired: desired)
    }

    /// Removes every labelled container and the network; volumes only when asked.
    public func down(environment: String, removeVolumes: Bool, executor: Executor) async throws -> Outcome {
        let observed = try await engine.observe(environment: environment, containerNames: [], images: [])
        let plan = Planner.teardown(environment: environment, observed: observed, removeVolumes: removeVolumes)
        let report = await executor.run(plan, revision: nil)
        return Outcome(plan: plan, report: report)
    }
}
