import SwiftWorkload

workloadMain(label: "plain")
