/**
 * Two event buses, `payments` and `orders`, each in its own namespace, on the cluster named by the
 * kubeconfig in the stack configuration:
 *
 *   pulumi config set --secret kubeconfig "$(cat ~/.kube/platform.yaml)"
 *
 * Argo Events EventSources and Sensors in `payments-api` and `payments-jobs` use the payments bus;
 * those in `orders` (the bus's own namespace) use the orders bus.
 */
import * as pulumi from "@pulumi/pulumi";
import { EventingPlatform } from "./platform";

const config = new pulumi.Config();

const platform = new EventingPlatform("eventing", {
    kubeconfig: config.requireSecret("kubeconfig"),
    natsVersion: config.get("natsVersion") ?? "2.10.29",
    domains: [
        { name: "payments", applicationNamespaces: ["payments-api", "payments-jobs"] },
        { name: "orders", applicationNamespaces: ["orders"] },
    ],
});

export const urls = platform.urls;
export const paymentsClientSecret = platform.buses.payments.clientSecretName;
export const ordersClientSecret = platform.buses.orders.clientSecretName;
export const paymentsCaCert = platform.buses.payments.caCert;
